import { ValidationError } from '../domain/errors.js';
import type { CacheUserSpec } from './cache-users.js';

// What a tenant's cache user may do, in Redis ACL rules: the contract of the cache-users port, which
// the local adapter (ACL SETUSER) and the cloud one (an ElastiCache access string) both apply.

const USER_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
const PATTERN = /^t:[a-z0-9][a-z0-9-]{0,63}:\*$/;
/** Base64, base64url and hex all fit; no whitespace, so one password is always one rule. */
const PASSWORD = /^[A-Za-z0-9._~+/=-]{16,128}$/;

/**
 * What a tenant's user may do, after its keys and channels are set. Starting from nothing, it gets
 * the data commands (read, write, keyspace), pub/sub, MULTI/EXEC and its own connection's
 * commands, then loses everything that reaches past its own keys: `@dangerous` (FLUSHALL, KEYS,
 * CONFIG, ACL, INFO, CLIENT LIST/KILL, SORT, MIGRATE...), `@scripting` (FUNCTION FLUSH/DELETE
 * act on the server's one shared library), and the few remaining commands that key and channel
 * patterns do not filter: SCAN and RANDOMKEY (other tenants' key names), DBSIZE, PUBSUB
 * (other tenants' channel names), CLIENT TRACKING (BCAST prefixes are not checked against the
 * key patterns), SELECT and MOVE (keep the tenant in database 0, as in a cluster-mode cache).
 */
export const TENANT_COMMAND_RULES: readonly string[] = [
  '-@all',
  '+@read',
  '+@write',
  '+@keyspace',
  '+@pubsub',
  '+@transaction',
  '+@connection',
  '-@dangerous',
  '-@scripting',
  '-scan',
  '-randomkey',
  '-dbsize',
  '-pubsub',
  '-client|tracking',
  '-select',
  '-move',
];

/** The `ACL SETUSER` rules for `spec`, after checking every part of it. Same spec, same rules. */
export function tenantAclRules(spec: CacheUserSpec): string[] {
  checkCacheUserName(spec.userName);
  checkCacheField('keyPattern', spec.keyPattern, PATTERN, 'a key pattern like t:<tenant>:*');
  checkCacheField('channelPattern', spec.channelPattern, PATTERN, 'a channel pattern like t:<tenant>:*');
  if (typeof spec.password !== 'string' || !PASSWORD.test(spec.password)) {
    throw new ValidationError('password', `the password of cache user ${spec.userName} must be 16 to 128 characters from A-Z a-z 0-9 . _ ~ + / = -`);
  }
  return [
    'reset',
    'on',
    `>${spec.password}`,
    'resetkeys',
    `~${spec.keyPattern}`,
    'resetchannels',
    `&${spec.channelPattern}`,
    ...TENANT_COMMAND_RULES,
  ];
}

/** Checks a cache user name: 1 to 40 lowercase letters, digits or hyphens. */
export function checkCacheUserName(userName: string): void {
  checkCacheField('userName', userName, USER_NAME, '1 to 40 lowercase letters, digits or hyphens');
}

/** Checks one field of a cache request against its pattern, naming the field when it does not match. */
export function checkCacheField(field: string, value: string, pattern: RegExp, expected: string): void {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ValidationError(field, `${JSON.stringify(value)} is not ${expected}`);
  }
}
