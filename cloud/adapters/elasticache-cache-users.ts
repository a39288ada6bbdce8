import {
  CreateUserCommand,
  DeleteUserCommand,
  DescribeUserGroupsCommand,
  DescribeUsersCommand,
  ModifyUserCommand,
  ModifyUserGroupCommand,
  paginateDescribeUsers,
  type ElastiCacheClient,
  type User,
  type UserGroup,
} from '@aws-sdk/client-elasticache';
import { PermanentError, TransientError, ValidationError } from '../../lambdas/domain/errors.js';
import type { CacheAvailability, CacheEndpoint, CacheUserSpec, CacheUsersPort } from '../../lambdas/ports/cache-users.js';
import { tenantAclRules } from '../../lambdas/ports/cache-acl.js';
import { isAwsError, toDomainError } from './aws-errors.js';
import { InProcessUserGroupLock, type UserGroupLock } from './user-group-lock.js';
import { realSleep } from './poll-until.js';

export interface ElastiCacheCacheUsersOptions {
  /** Created once per Lambda module by the composition root. */
  readonly client: ElastiCacheClient;
  /** The cell's user group, the one its cache is attached to. */
  readonly userGroupId: string;
  /** Where tenants reach the cell's cache (its primary or configuration endpoint). */
  readonly endpoint: { readonly host: string; readonly port: number };
  /**
   * Whether the cache speaks TLS only, so tenants get `rediss://` URLs. ElastiCache RBAC requires
   * encryption in transit, so a user group's cache always does. @default true
   */
  readonly tls?: boolean;
  /** Engine of the users created; must suit the user group. @default 'valkey' */
  readonly engine?: 'valkey' | 'redis';
  /** How many users the user group holds at most, the `default` user included. @default 100 */
  readonly maxUsersPerGroup?: number;
  /** How to wait between polls. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The clock the deadline is measured on. @default Date.now */
  readonly now?: () => number;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
  /**
   * How long one call may wait for users and the group to settle before it throws
   * `Hostplane.Transient` (the state machine then retries the step). Keep it under the Lambda's timeout.
   * @default 90000
   */
  readonly waitTimeoutMs?: number;
  /** Serializes this process's changes to the user group. @default new InProcessUserGroupLock() */
  readonly lock?: UserGroupLock;
}

/** The user every user group must hold; a tenant name can never be it, and this adapter never touches it. */
const DEFAULT_USER = 'default';
const DEFAULT_MAX_USERS_PER_GROUP = 100;
const DEFAULT_WAIT_TIMEOUT_MS = 90_000;
const FIRST_DELAY_MS = 2_000;
const MAX_DELAY_MS = 15_000;
const USER_NAME_PREFIX = /^[a-z0-9-]{0,40}$/;

/** "Busy, try again once it is active": a user or user group in the middle of another change. */
const BUSY = ['InvalidUserStateFault', 'InvalidUserGroupStateFault'];

/**
 * The ElastiCache access string for a tenant's user: the local adapter's ACL rules (one source for
 * what a tenant may do) without `reset` and the password, which an access string may not hold
 * (passwords go in the Passwords parameter). `resetchannels` stays: on Redis OSS 6.2 a new user
 * starts with all channels, and a channel pattern is only accepted after it (redis/redis#7993).
 * ElastiCache accepts `resetkeys`/`resetchannels` and `&` patterns in access strings and drops the
 * reset keywords from the stored string (checked: ElastiCache RBAC guide, and public setup notes).
 */
export function tenantAccessString(spec: CacheUserSpec): string {
  checkUserId(spec.userName);
  const rules = tenantAclRules(spec);
  if (/[/"@]/.test(spec.password)) {
    throw new ValidationError('password', `the password of cache user ${spec.userName} may not contain / " or @, which ElastiCache passwords exclude`);
  }
  return rules.filter((rule) => rule !== 'reset' && !rule.startsWith('>')).join(' ');
}

/**
 * Cache users as ElastiCache RBAC users in the cell's user group. Every change waits for the user
 * or group to be `active` and backs off while another change is under way (see user-group-lock.ts
 * for why that is safe across concurrent Lambdas); waiting past the deadline is `Hostplane.Transient`.
 */
export class ElastiCacheCacheUsers implements CacheUsersPort {
  private readonly client: ElastiCacheClient;
  private readonly userGroupId: string;
  private readonly endpoint: CacheEndpoint;
  private readonly engine: 'valkey' | 'redis';
  private readonly maxUsersPerGroup: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly waitTimeoutMs: number;
  private readonly lock: UserGroupLock;

  constructor(options: ElastiCacheCacheUsersOptions) {
    this.client = options.client;
    this.userGroupId = options.userGroupId;
    this.endpoint = { host: options.endpoint.host, port: options.endpoint.port, tls: options.tls ?? true };
    this.engine = options.engine ?? 'valkey';
    this.maxUsersPerGroup = options.maxUsersPerGroup ?? DEFAULT_MAX_USERS_PER_GROUP;
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    this.lock = options.lock ?? new InProcessUserGroupLock();
  }

  async availability(): Promise<CacheAvailability> {
    let group: UserGroup;
    try {
      group = await this.describeGroupOrThrow();
    } catch (error) {
      if (isAwsError(error, 'UserGroupNotFoundFault')) return { available: false, reason: `the cache user group ${this.userGroupId} does not exist` };
      throw toDomainError(error, `describing cache user group ${this.userGroupId}`);
    }
    if (group.Status === 'active' || group.Status === 'modifying') return { available: true, endpoint: { ...this.endpoint } };
    return { available: false, reason: `the cache user group ${this.userGroupId} is ${group.Status ?? 'in an unknown state'}` };
  }

  async ensureUser(spec: CacheUserSpec): Promise<void> {
    const accessString = tenantAccessString(spec);
    const deadline = this.deadline();
    await this.putUser(spec, accessString, deadline);
    await this.waitForUserActive(spec.userName, deadline);
    await this.lock.withGroup(this.userGroupId, () => this.addToGroup(spec.userName, deadline));
  }

  /**
   * Removes the user from this cache's group and from any other group it is in (a cell has several
   * caches, each with its group: drift fixing deletes a user through whichever cache it asks), then
   * deletes it. False when there was no user to delete (or it was already being deleted).
   */
  async deleteUser(userName: string): Promise<boolean> {
    checkUserId(userName);
    const deadline = this.deadline();
    const groups = new Set([this.userGroupId, ...((await this.describeUser(userName))?.UserGroupIds ?? [])]);
    for (const groupId of groups) await this.lock.withGroup(groupId, () => this.removeFromGroup(groupId, userName, deadline));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new DeleteUserCommand({ UserId: userName }));
        return true;
      } catch (error) {
        if (isAwsError(error, 'UserNotFoundFault')) return false;
        if (!isAwsError(error, ...BUSY)) throw toDomainError(error, `deleting cache user ${userName}`);
      }
      await this.pause(`cache user ${userName} to accept being deleted`, deadline, attempt);
    }
  }

  /** Whether the user exists and is not on its way out. */
  async userExists(userName: string): Promise<boolean> {
    checkUserId(userName);
    const user = await this.describeUser(userName);
    return user !== undefined && user.Status !== 'deleting';
  }

  async listUsers(prefix: string): Promise<string[]> {
    if (typeof prefix !== 'string' || !USER_NAME_PREFIX.test(prefix)) {
      throw new ValidationError('prefix', `${JSON.stringify(prefix)} is not the start of a user name (up to 40 lowercase letters, digits or hyphens)`);
    }
    const names = new Set<string>();
    try {
      for await (const page of paginateDescribeUsers({ client: this.client }, {})) {
        for (const user of page.Users ?? []) {
          if (user.UserId?.startsWith(prefix) && user.Status !== 'deleting') names.add(user.UserId);
        }
      }
    } catch (error) {
      throw toDomainError(error, 'listing cache users');
    }
    return [...names].sort();
  }

  /** CreateUser, or, when it exists, ModifyUser to bring its password and access string to the spec. */
  private async putUser(spec: CacheUserSpec, accessString: string, deadline: number): Promise<void> {
    const userId = spec.userName;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(
          new CreateUserCommand({ UserId: userId, UserName: userId, Engine: this.engine, Passwords: [spec.password], AccessString: accessString }),
        );
        return;
      } catch (error) {
        if (!isAwsError(error, 'UserAlreadyExistsFault')) throw toDomainError(error, `creating cache user ${userId}`);
      }
      try {
        await this.client.send(new ModifyUserCommand({ UserId: userId, AccessString: accessString, Passwords: [spec.password] }));
        return;
      } catch (error) {
        // Not found: deleted between the two calls, so create it again.
        if (!isAwsError(error, 'UserNotFoundFault', ...BUSY)) throw toDomainError(error, `updating cache user ${userId}`);
      }
      await this.pause(`cache user ${userId} to accept changes`, deadline, attempt);
    }
  }

  private async waitForUserActive(userId: string, deadline: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      // Not found right after CreateUser is eventual consistency: keep polling.
      const user = await this.describeUser(userId);
      if (user?.Status === 'active') return;
      await this.pause(`cache user ${userId} to be active (it is ${user?.Status ?? 'not visible yet'})`, deadline, attempt);
    }
  }

  /** The optimistic protocol of user-group-lock.ts, adding `userId`. */
  private async addToGroup(userId: string, deadline: number): Promise<void> {
    let added = false;
    for (let attempt = 0; ; attempt++) {
      const group = await this.describeGroup();
      const membership = membershipOf(group, userId);
      const active = group.Status === 'active';
      if (membership === 'member' && (active || !added)) return;
      if (active && membership === 'absent' && !added) {
        this.checkRoomFor(userId, group);
        try {
          await this.client.send(new ModifyUserGroupCommand({ UserGroupId: this.userGroupId, UserIdsToAdd: [userId] }));
          added = true;
        } catch (error) {
          if (isAwsError(error, 'UserGroupQuotaExceededFault')) throw this.fullError(userId, memberCount(group));
          // A user just made active may not be visible to the group yet: try again, as when busy.
          if (!isAwsError(error, 'UserNotFoundFault', ...BUSY)) throw toDomainError(error, `adding cache user ${userId} to user group ${this.userGroupId}`);
        }
      }
      await this.pause(`cache user group ${this.userGroupId} to hold ${userId} and be active (it is ${group.Status ?? 'in an unknown state'})`, deadline, attempt);
    }
  }

  /** The optimistic protocol of user-group-lock.ts, removing `userId` from `groupId`. */
  private async removeFromGroup(groupId: string, userId: string, deadline: number): Promise<void> {
    let removed = false;
    for (let attempt = 0; ; attempt++) {
      let group: UserGroup;
      try {
        group = await this.describeGroupOrThrow(groupId);
      } catch (error) {
        if (isAwsError(error, 'UserGroupNotFoundFault')) return;
        throw toDomainError(error, `describing cache user group ${groupId}`);
      }
      const membership = membershipOf(group, userId);
      const active = group.Status === 'active';
      if (membership === 'absent' && (active || !removed)) return;
      if (active && membership === 'member' && !removed) {
        try {
          await this.client.send(new ModifyUserGroupCommand({ UserGroupId: groupId, UserIdsToRemove: [userId] }));
          removed = true;
        } catch (error) {
          if (isAwsError(error, 'UserNotFoundFault')) return;
          if (!isAwsError(error, ...BUSY)) throw toDomainError(error, `removing cache user ${userId} from user group ${groupId}`);
        }
      }
      await this.pause(`cache user group ${groupId} to let go of ${userId} and be active (it is ${group.Status ?? 'in an unknown state'})`, deadline, attempt);
    }
  }

  private checkRoomFor(userId: string, group: UserGroup): void {
    const count = memberCount(group);
    if (count >= this.maxUsersPerGroup) throw this.fullError(userId, count);
  }

  private fullError(userId: string, count: number): PermanentError {
    return new PermanentError(
      `cache user group ${this.userGroupId} is full: it holds ${count} users and a user group holds at most ${this.maxUsersPerGroup} ` +
        `(the default user counts), so ${userId} cannot join; place the tenant in another cell`,
    );
  }

  private async describeUser(userId: string): Promise<User | undefined> {
    try {
      const { Users } = await this.client.send(new DescribeUsersCommand({ UserId: userId }));
      return Users?.find((user) => user.UserId === userId);
    } catch (error) {
      if (isAwsError(error, 'UserNotFoundFault')) return undefined;
      throw toDomainError(error, `describing cache user ${userId}`);
    }
  }

  private async describeGroup(): Promise<UserGroup> {
    try {
      return await this.describeGroupOrThrow();
    } catch (error) {
      throw toDomainError(error, `describing cache user group ${this.userGroupId}`);
    }
  }

  /** The group (this cache's, unless named) as AWS reports it; AWS errors pass through unmapped, for the caller to recognise. */
  private async describeGroupOrThrow(groupId = this.userGroupId): Promise<UserGroup> {
    const { UserGroups } = await this.client.send(new DescribeUserGroupsCommand({ UserGroupId: groupId }));
    const group = UserGroups?.find((candidate) => candidate.UserGroupId === groupId);
    if (!group) throw new PermanentError(`describing cache user group ${groupId}: not in the answer`);
    return group;
  }

  private deadline(): number {
    return this.now() + this.waitTimeoutMs;
  }

  /** Exponential backoff with jitter (half fixed, half random), never past the deadline. */
  private async pause(waitingFor: string, deadline: number, attempt: number): Promise<void> {
    const left = deadline - this.now();
    if (left <= 0) {
      throw new TransientError(`gave up after ${this.waitTimeoutMs} ms waiting for ${waitingFor}; a retry of the step carries on from here`);
    }
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 10));
    const delay = ceiling / 2 + this.random() * (ceiling / 2);
    await this.sleep(Math.min(Math.ceil(delay), left));
  }
}

type Membership = 'member' | 'absent' | 'changing';

/** Where `userId` stands in the group: settled in, settled out, or in a pending change. */
function membershipOf(group: UserGroup, userId: string): Membership {
  const pending = group.PendingChanges;
  if (pending?.UserIdsToAdd?.includes(userId) || pending?.UserIdsToRemove?.includes(userId)) return 'changing';
  return group.UserIds?.includes(userId) ? 'member' : 'absent';
}

/** Members and members-to-be: what the group's limit is counted against. */
function memberCount(group: UserGroup): number {
  return new Set([...(group.UserIds ?? []), ...(group.PendingChanges?.UserIdsToAdd ?? [])]).size;
}

/** A tenant's user name is also its ElastiCache user id, which must start with a letter; `default` is the cell's. */
function checkUserId(userName: string): void {
  if (typeof userName !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(userName)) {
    throw new ValidationError('userName', `${JSON.stringify(userName)} is not a letter then up to 39 lowercase letters, digits or hyphens`);
  }
  if (userName === DEFAULT_USER) throw new ValidationError('userName', 'the default user belongs to the cell, not to a tenant');
}
