import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { readBody } from './read-body.js';

/**
 * ElastiCache's RBAC calls (users and user groups) in front of a real Redis: moto implements
 * CreateUser but not user groups, and a user in moto never reaches a cache. Here a user that is
 * in the cell's user group exists in the Redis as an ACL user with its access string and
 * passwords, as ElastiCache applies them to the group's caches; removed from the group or deleted,
 * it is gone from the Redis. Speaks the query protocol (form body in, XML out) of the SDK's client.
 */
export interface ElastiCacheUsersServerOptions {
  /** An admin connection to the cache (`rediss://…`, the CA trusted by the caller's TLS options). */
  readonly redis: Redis;
  /** The user groups that exist, each with its initial members (users created by the stack). */
  readonly userGroups: Readonly<Record<string, readonly string[]>>;
  /** Users the stack created, by id. */
  readonly users?: readonly ElastiCacheUser[];
  /** ElastiCache's limit on users per user group. @default 100 */
  readonly maxUsersPerGroup?: number;
}

export interface ElastiCacheUser {
  readonly userId: string;
  readonly userName: string;
  readonly accessString: string;
  readonly passwords: readonly string[];
  readonly engine: string;
}

export interface ElastiCacheUsersServer {
  readonly endpoint: string;
  /** The users that exist now, by id. */
  users(): ElastiCacheUser[];
  stop(): Promise<void>;
}

class Fault extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const NAMESPACE = 'http://elasticache.amazonaws.com/doc/2015-02-02/';

export async function startElastiCacheUsersServer(options: ElastiCacheUsersServerOptions): Promise<ElastiCacheUsersServer> {
  const users = new Map<string, ElastiCacheUser>((options.users ?? []).map((user) => [user.userId, user]));
  const groups = new Map<string, Set<string>>(Object.entries(options.userGroups).map(([id, members]) => [id, new Set(members)]));
  const maxUsers = options.maxUsersPerGroup ?? 100;
  const inAnyGroup = (userId: string) => [...groups.values()].some((members) => members.has(userId));

  const applyToCache = async (user: ElastiCacheUser) => {
    // ElastiCache's access string is Redis ACL rules; the passwords replace the user's.
    const rules = user.accessString.split(/\s+/).filter(Boolean);
    await options.redis.call('ACL', 'SETUSER', user.userName, 'reset', ...rules, ...user.passwords.map((password) => `>${password}`));
  };
  const removeFromCache = async (user: ElastiCacheUser) => {
    if (user.userName === 'default') await options.redis.call('ACL', 'SETUSER', 'default', 'off');
    else await options.redis.call('ACL', 'DELUSER', user.userName);
  };
  for (const [, members] of groups) for (const userId of members) if (users.has(userId)) await applyToCache(users.get(userId)!);

  const operations: Record<string, (form: URLSearchParams) => Promise<string>> = {
    async CreateUser(form) {
      const user: ElastiCacheUser = {
        userId: required(form, 'UserId'),
        userName: required(form, 'UserName'),
        accessString: required(form, 'AccessString'),
        passwords: members(form, 'Passwords'),
        engine: form.get('Engine') ?? 'redis',
      };
      if (users.has(user.userId)) throw new Fault('UserAlreadyExists', 400, `User ${user.userId} already exists.`);
      users.set(user.userId, user);
      return userXml(user);
    },
    async ModifyUser(form) {
      const user = knownUser(form.get('UserId'));
      const passwords = members(form, 'Passwords');
      const modified = { ...user, accessString: form.get('AccessString') ?? user.accessString, passwords: passwords.length ? passwords : user.passwords };
      users.set(user.userId, modified);
      if (inAnyGroup(user.userId)) await applyToCache(modified);
      return userXml(modified);
    },
    async DeleteUser(form) {
      const user = knownUser(form.get('UserId'));
      if (inAnyGroup(user.userId)) throw new Fault('InvalidUserState', 400, `User ${user.userId} belongs to a user group.`);
      users.delete(user.userId);
      return userXml(user, 'deleting');
    },
    async DescribeUsers(form) {
      const userId = form.get('UserId');
      if (userId && !users.has(userId)) throw new Fault('UserNotFound', 404, `User ${userId} not found.`);
      const listed = userId ? [users.get(userId)!] : [...users.values()];
      const groupsOf = (userId: string) => [...groups].filter(([, members]) => members.has(userId)).map(([id]) => id);
      return `<Users>${listed.map((user) => `<member>${userXml(user, 'active', groupsOf(user.userId))}</member>`).join('')}</Users>`;
    },
    async ModifyUserGroup(form) {
      const groupId = required(form, 'UserGroupId');
      const group = groups.get(groupId);
      if (!group) throw new Fault('UserGroupNotFound', 404, `User group ${groupId} not found.`);
      const toAdd = members(form, 'UserIdsToAdd');
      const toRemove = members(form, 'UserIdsToRemove');
      for (const userId of [...toAdd, ...toRemove]) knownUser(userId);
      if (group.size + toAdd.filter((id) => !group.has(id)).length > maxUsers) throw new Fault('UserGroupQuotaExceeded', 400, `User group ${groupId} would hold more than ${maxUsers} users.`);
      for (const userId of toAdd) {
        group.add(userId);
        await applyToCache(users.get(userId)!);
      }
      for (const userId of toRemove) {
        group.delete(userId);
        if (!inAnyGroup(userId)) await removeFromCache(users.get(userId)!);
      }
      return userGroupXml(groupId, group);
    },
    async DescribeUserGroups(form) {
      const groupId = form.get('UserGroupId');
      if (groupId && !groups.has(groupId)) throw new Fault('UserGroupNotFound', 404, `User group ${groupId} not found.`);
      const listed = groupId ? [[groupId, groups.get(groupId)!] as const] : [...groups.entries()];
      return `<UserGroups>${listed.map(([id, group]) => `<member>${userGroupXml(id, group)}</member>`).join('')}</UserGroups>`;
    },
  };

  function knownUser(userId: string | null): ElastiCacheUser {
    const user = userId ? users.get(userId) : undefined;
    if (!user) throw new Fault('UserNotFound', 404, `User ${userId ?? ''} not found.`);
    return user;
  }

  const server: Server = createServer((request, response) => {
    void readBody(request).then(async (bytes) => {
      const form = new URLSearchParams(bytes.toString('utf8'));
      const action = form.get('Action') ?? '';
      const requestId = crypto.randomUUID();
      try {
        const operation = operations[action];
        if (!operation) throw new Fault('InvalidAction', 400, `The rehearsal's ElastiCache does not serve ${action || 'an unnamed action'}.`);
        const result = await operation(form);
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(
          `<${action}Response xmlns="${NAMESPACE}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
        );
      } catch (error) {
        const fault = error instanceof Fault ? error : new Fault('InternalFailure', 500, error instanceof Error ? error.message : String(error));
        response.writeHead(fault.status, { 'content-type': 'text/xml' });
        response.end(
          `<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>Sender</Type><Code>${fault.code}</Code><Message>${escapeXml(fault.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    users: () => [...users.values()],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw new Fault('InvalidParameterValue', 400, `${name} is required.`);
  return value;
}

/** `Name.member.1`, `Name.member.2`, … in order. */
function members(form: URLSearchParams, name: string): string[] {
  const found: string[] = [];
  for (let index = 1; form.has(`${name}.member.${index}`); index++) found.push(form.get(`${name}.member.${index}`)!);
  return found;
}

/** A User element; `groupIds` are the user groups it is in (DescribeUsers reports them, as AWS does). */
function userXml(user: ElastiCacheUser, status = 'active', groupIds: readonly string[] = []): string {
  return (
    `<UserId>${escapeXml(user.userId)}</UserId><UserName>${escapeXml(user.userName)}</UserName><Status>${status}</Status>` +
    `<UserGroupIds>${groupIds.map((id) => `<member>${escapeXml(id)}</member>`).join('')}</UserGroupIds>` +
    `<Engine>${escapeXml(user.engine)}</Engine><AccessString>${escapeXml(user.accessString)}</AccessString>` +
    `<Authentication><Type>password</Type><PasswordCount>${user.passwords.length}</PasswordCount></Authentication>`
  );
}

function userGroupXml(groupId: string, group: ReadonlySet<string>): string {
  return `<UserGroupId>${escapeXml(groupId)}</UserGroupId><Status>active</Status><Engine>redis</Engine><UserIds>${[...group]
    .map((id) => `<member>${escapeXml(id)}</member>`)
    .join('')}</UserIds>`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
