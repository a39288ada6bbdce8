import { Redis } from 'ioredis';
import { TransientError, ValidationError, errorMessage } from '../../lambdas/domain/errors.js';
import { checkCacheField, checkCacheUserName, tenantAclRules } from '../../lambdas/ports/cache-acl.js';
import type { CacheAvailability, CacheEndpoint, CacheUserSpec, CacheUsersPort } from '../../lambdas/ports/cache-users.js';
import type { NoticesPort } from '../../lambdas/ports/notices.js';
import { closeRedis, dropRedis } from './redis-connection.js';

export interface RedisCacheUsersOptions {
  /** The Redis that holds the users, with a user allowed to run `ACL`. @default redis://127.0.0.1:6379 */
  readonly url: string | undefined;
  /** How long a connection attempt may take before the Redis counts as unreachable. @default 1000 */
  readonly connectTimeoutMs?: number;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const USER_NAME_PREFIX = /^[a-z0-9-]{0,40}$/;
const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
const COMMAND_TIMEOUT_MS = 5_000;

/** Cache users as Redis ACL users, on a real Redis (local stand-in for ElastiCache RBAC). */
export class RedisCacheUsers implements CacheUsersPort, NoticesPort {
  private readonly url: string;
  private readonly urlGiven: boolean;
  private readonly connectTimeoutMs: number;
  private client: Redis | undefined;
  private connecting: Promise<Redis> | undefined;
  private lastConnectionError: unknown;
  private available: CacheAvailability | undefined;

  constructor(options: RedisCacheUsersOptions) {
    this.url = options.url ?? DEFAULT_URL;
    this.urlGiven = options.url !== undefined;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  async availability(): Promise<CacheAvailability> {
    if (this.available) return this.available;
    let client: Redis;
    try {
      client = await this.connected();
    } catch (error) {
      const advice = this.urlGiven ? 'check the URL' : 'start one there or set REDIS_URL to use another';
      return { available: false, reason: `no Redis reachable at ${this.shownUrl()} (${describe(error, this.connectTimeoutMs)}); ${advice}` };
    }
    try {
      await client.call('ACL', 'WHOAMI');
    } catch (error) {
      if (isConnectionError(error)) return { available: false, reason: `Redis at ${this.shownUrl()} went away (${describe(error, this.connectTimeoutMs)})` };
      return {
        available: false,
        reason: `Redis at ${this.shownUrl()} cannot manage ACL users (${errorMessage(error)}); it needs Redis 6 or later and a user allowed to run ACL`,
      };
    }
    this.available = { available: true, endpoint: endpointOf(this.url) };
    return this.available;
  }

  async ensureUser(spec: CacheUserSpec): Promise<void> {
    const rules = tenantAclRules(spec);
    await this.run((client) => client.call('ACL', 'SETUSER', spec.userName, ...rules));
  }

  async deleteUser(userName: string): Promise<boolean> {
    checkCacheUserName(userName);
    const deleted = await this.run((client) => client.call('ACL', 'DELUSER', userName));
    return Number(deleted) > 0;
  }

  async userExists(userName: string): Promise<boolean> {
    checkCacheUserName(userName);
    const user = await this.run((client) => client.call('ACL', 'GETUSER', userName));
    return user !== null;
  }

  async listUsers(prefix: string): Promise<string[]> {
    checkCacheField('prefix', prefix, USER_NAME_PREFIX, 'the start of a user name (up to 40 lowercase letters, digits or hyphens)');
    const users = await this.run((client) => client.call('ACL', 'USERS'));
    return (users as string[]).filter((name) => name.startsWith(prefix)).sort();
  }

  /** Notices go over the same Redis, as the server's admin: PUBLISH reaches the tenant's subscribed runtime. */
  async notify(channel: string, message: string): Promise<number> {
    if (!/^t:[a-z0-9][a-z0-9-]{0,63}:[a-z]{1,32}$/.test(channel)) throw new ValidationError('channel', `must be a tenant channel like t:<tenant>:deploy, got ${JSON.stringify(channel)}`);
    return this.run((client) => client.publish(channel, message));
  }

  /** Closes the connection, if there is one. The adapter reconnects if used again. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await closeRedis(client);
  }

  private async run<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    let client: Redis;
    try {
      client = await this.connected();
    } catch (error) {
      throw new TransientError(`no Redis reachable at ${this.shownUrl()} (${describe(error, this.connectTimeoutMs)})`, { cause: error });
    }
    try {
      return await command(client);
    } catch (error) {
      if (isConnectionError(error)) {
        throw new TransientError(`Redis at ${this.shownUrl()} did not answer (${describe(error, this.connectTimeoutMs)})`, { cause: error });
      }
      throw error;
    }
  }

  /** One connection, opened on first use and again after it is lost; never a background retry loop. */
  private async connected(): Promise<Redis> {
    if (this.client?.status === 'ready') return this.client;
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<Redis> {
    if (this.client) dropRedis(this.client);
    this.client = undefined;
    this.lastConnectionError = undefined;
    const client = new Redis(this.url, {
      lazyConnect: true,
      connectTimeout: this.connectTimeoutMs,
      commandTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      disableClientInfo: true,
    });
    client.on('error', (error: unknown) => {
      this.lastConnectionError = error;
    });
    try {
      await client.connect();
    } catch (error) {
      dropRedis(client);
      throw this.lastConnectionError ?? error;
    }
    this.client = client;
    return client;
  }

  /** The URL without its password, fit for messages and logs. */
  private shownUrl(): string {
    try {
      const url = new URL(this.url);
      if (url.password) url.password = '***';
      return url.toString().replace(/\/$/, '');
    } catch {
      return '(unparsable Redis URL)';
    }
  }
}


/** Where tenants reach this Redis: a `rediss://` URL is a Redis that speaks TLS, so tenants' URLs are `rediss://` too. */
function endpointOf(redisUrl: string): CacheEndpoint {
  const url = new URL(redisUrl);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port: url.port ? Number(url.port) : 6379, tls: url.protocol === 'rediss:' };
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECTION_MESSAGES = [
  'Connection is closed',
  'Command timed out',
  'max retries per request',
  "Stream isn't writeable",
];

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

function isConnectionError(error: unknown): boolean {
  const code = errorCode(error);
  if (code && CONNECTION_CODES.has(code)) return true;
  const message = errorMessage(error);
  return CONNECTION_MESSAGES.some((fragment) => message.includes(fragment));
}

function describe(error: unknown, connectTimeoutMs: number): string {
  switch (errorCode(error)) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ETIMEDOUT':
      return `no answer within ${connectTimeoutMs} ms`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return errorMessage(error);
  }
}
