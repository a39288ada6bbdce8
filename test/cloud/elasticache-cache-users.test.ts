import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  CreateUserCommand,
  DeleteUserCommand,
  DescribeUserGroupsCommand,
  DescribeUsersCommand,
  ElastiCacheClient,
  ElastiCacheServiceException,
  InvalidUserGroupStateFault,
  InvalidUserStateFault,
  ModifyUserCommand,
  ModifyUserGroupCommand,
  UserAlreadyExistsFault,
  UserGroupNotFoundFault,
  UserGroupQuotaExceededFault,
  UserNotFoundFault,
  type DescribeUserGroupsCommandInput,
  type DescribeUsersCommandInput,
  type ModifyUserGroupCommandInput,
  type CreateUserCommandInput,
  type UserGroup,
} from '@aws-sdk/client-elasticache';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ElastiCacheCacheUsers, tenantAccessString, type ElastiCacheCacheUsersOptions } from '../../cloud/adapters/elasticache-cache-users.js';
import { InProcessUserGroupLock, type UserGroupLock } from '../../cloud/adapters/user-group-lock.js';
import { ErrorNames, ValidationError } from '../../lambdas/domain/errors.js';
import { tenantResourceNames } from '../../lambdas/domain/naming.js';
import { tenantIdSchema } from '../../lambdas/domain/tenant-id.js';
import type { CacheUserSpec } from '../../lambdas/ports/cache-users.js';

const GROUP = 'hp-dev-c1-users';
const ENDPOINT = { host: 'master.hp-dev-c1.abc123.euw1.cache.amazonaws.com', port: 6379 };
const PASSWORD = 'Q7kP2mXw9vR4tZ8sL3nB6cH5jD1fG0aE';

function tenantSpec(tenant: string, password = PASSWORD): CacheUserSpec {
  const names = tenantResourceNames({ environment: 'dev', cell: 'c1' }, tenantIdSchema.parse(tenant));
  return { userName: names.cacheUser, password, keyPattern: names.cacheKeyPattern, channelPattern: names.cacheChannelPattern };
}

const ACME = tenantSpec('acme');
const ACME_ACCESS =
  'on resetkeys ~t:acme:* resetchannels &t:acme:* -@all +@read +@write +@keyspace +@pubsub +@transaction +@connection ' +
  '-@dangerous -@scripting -scan -randomkey -dbsize -pubsub -client|tracking -select -move';

function awsFault<T>(Fault: new (options: { message: string; $metadata: Record<string, never> }) => T, message = 'from the test'): T {
  return new Fault({ message, $metadata: {} });
}

function throttling(): ElastiCacheServiceException {
  return new ElastiCacheServiceException({ name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' });
}

function group(userIds: string[], status = 'active', pending?: UserGroup['PendingChanges']): { UserGroups: UserGroup[] } {
  return { UserGroups: [{ UserGroupId: GROUP, Status: status, Engine: 'valkey', UserIds: userIds, PendingChanges: pending }] };
}

function user(userId: string, status: string) {
  return { Users: [{ UserId: userId, UserName: userId, Status: status, Engine: 'valkey' }] };
}

/** Time that passes only when the adapter sleeps, so waits cost nothing and deadlines are exact. */
function virtualTime() {
  let now = 0;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    slept,
  };
}

async function errorOf(action: () => Promise<unknown>): Promise<Error> {
  try {
    await action();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-error: ${String(error)}`, { cause: error });
  }
  throw new Error('expected an error, got none');
}

describe('ElastiCacheCacheUsers', () => {
  const elastiCache = mockClient(ElastiCacheClient);
  let time: ReturnType<typeof virtualTime>;

  function adapter(options: Partial<ElastiCacheCacheUsersOptions> = {}): ElastiCacheCacheUsers {
    return new ElastiCacheCacheUsers({
      client: new ElastiCacheClient({ region: 'eu-west-1' }),
      userGroupId: GROUP,
      endpoint: ENDPOINT,
      sleep: time.sleep,
      now: time.now,
      random: () => 0.5,
      ...options,
    });
  }

  beforeEach(() => {
    elastiCache.reset();
    time = virtualTime();
  });

  describe('tenantAccessString', () => {
    it('limits the user to its own keys and channels, with the tenant command rules and no reset or password', () => {
      expect(tenantAccessString(ACME)).toBe(ACME_ACCESS);
    });

    it('refuses the default user, a name ElastiCache would refuse, and a password with / " or @', () => {
      expect(() => tenantAccessString({ ...ACME, userName: 'default' })).toThrow(ValidationError);
      expect(() => tenantAccessString({ ...ACME, userName: '1acme' })).toThrow(ValidationError);
      expect(() => tenantAccessString({ ...ACME, password: 'abcdefgh/ijklmnopq' })).toThrow(ValidationError);
      expect(() => tenantAccessString({ ...ACME, keyPattern: '*' })).toThrow(ValidationError);
    });
  });

  describe('ensureUser', () => {
    it('creates the user, waits for it to be active, adds it to the group and waits for the group to be active', async () => {
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache
        .on(DescribeUsersCommand)
        .resolvesOnce(user(ACME.userName, 'creating'))
        .resolves(user(ACME.userName, 'active'));
      elastiCache
        .on(DescribeUserGroupsCommand)
        .resolvesOnce(group(['default']))
        .resolvesOnce(group(['default'], 'modifying', { UserIdsToAdd: [ACME.userName] }))
        .resolves(group(['default', ACME.userName]));
      elastiCache.on(ModifyUserGroupCommand).resolves({});

      await adapter().ensureUser(ACME);

      expect(elastiCache).toHaveReceivedCommandTimes(CreateUserCommand, 1);
      expect(elastiCache).toHaveReceivedCommandWith(CreateUserCommand, {
        UserId: 'hp-dev-c1-acme',
        UserName: 'hp-dev-c1-acme',
        Engine: 'valkey',
        Passwords: [PASSWORD],
        AccessString: ACME_ACCESS,
      });
      expect(elastiCache).toHaveReceivedCommandTimes(DescribeUsersCommand, 2);
      expect(elastiCache).toHaveReceivedCommandWith(DescribeUsersCommand, { UserId: 'hp-dev-c1-acme' });
      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 1);
      expect(elastiCache).toHaveReceivedCommandWith(ModifyUserGroupCommand, { UserGroupId: GROUP, UserIdsToAdd: ['hp-dev-c1-acme'] });
      expect(elastiCache).toHaveReceivedCommandTimes(DescribeUserGroupsCommand, 3);
      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserCommand, 0);
      expect(time.slept).toEqual([1_500, 1_500, 3_000]);
    });

    it('never sends a change that names the default user', async () => {
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'active'));
      elastiCache.on(DescribeUserGroupsCommand).resolvesOnce(group(['default'])).resolves(group(['default', ACME.userName]));
      elastiCache.on(ModifyUserGroupCommand).resolves({});

      await adapter().ensureUser(ACME);

      const changes = elastiCache.calls().map((call) => JSON.stringify(call.args[0].input));
      expect(changes.filter((input) => input.includes('"default"'))).toEqual([]);
      await expect(adapter().ensureUser({ ...ACME, userName: 'default' })).rejects.toThrow(ValidationError);
      await expect(adapter().deleteUser('default')).rejects.toThrow(ValidationError);
    });

    it('creates the user with the redis engine when told to', async () => {
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'active'));
      elastiCache.on(DescribeUserGroupsCommand).resolves(group(['default', ACME.userName]));

      await adapter({ engine: 'redis' }).ensureUser(ACME);

      expect(elastiCache).toHaveReceivedCommandWith(CreateUserCommand, { UserId: 'hp-dev-c1-acme', Engine: 'redis' });
    });

    it('brings an existing user to the spec with ModifyUser and leaves a member in the group alone', async () => {
      const rotated = tenantSpec('acme', 'N3wPassw0rdN3wPassw0rdN3wPassw0rd');
      elastiCache.on(CreateUserCommand).rejects(awsFault(UserAlreadyExistsFault));
      elastiCache.on(ModifyUserCommand).resolves({});
      elastiCache
        .on(DescribeUsersCommand)
        .resolvesOnce(user(ACME.userName, 'modifying'))
        .resolves(user(ACME.userName, 'active'));
      elastiCache.on(DescribeUserGroupsCommand).resolves(group(['default', ACME.userName], 'modifying'));

      await adapter().ensureUser(rotated);

      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserCommand, 1);
      expect(elastiCache).toHaveReceivedCommandWith(ModifyUserCommand, {
        UserId: 'hp-dev-c1-acme',
        AccessString: ACME_ACCESS,
        Passwords: ['N3wPassw0rdN3wPassw0rdN3wPassw0rd'],
      });
      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 0);
      expect(elastiCache).toHaveReceivedCommandTimes(DescribeUserGroupsCommand, 1);
    });

    it('waits while the existing user is busy with another change, then modifies it', async () => {
      elastiCache.on(CreateUserCommand).rejects(awsFault(UserAlreadyExistsFault));
      elastiCache.on(ModifyUserCommand).rejectsOnce(awsFault(InvalidUserStateFault)).resolves({});
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'active'));
      elastiCache.on(DescribeUserGroupsCommand).resolves(group(['default', ACME.userName]));

      await adapter().ensureUser(ACME);

      expect(elastiCache).toHaveReceivedCommandTimes(CreateUserCommand, 2);
      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserCommand, 2);
      expect(time.slept).toEqual([1_500]);
    });

    it('keeps polling when the new user is not visible yet (eventual consistency)', async () => {
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache
        .on(DescribeUsersCommand)
        .rejectsOnce(awsFault(UserNotFoundFault))
        .resolves(user(ACME.userName, 'active'));
      elastiCache.on(DescribeUserGroupsCommand).resolvesOnce(group(['default'])).resolves(group(['default', ACME.userName]));
      elastiCache.on(ModifyUserGroupCommand).resolves({});

      await adapter().ensureUser(ACME);

      expect(elastiCache).toHaveReceivedCommandTimes(DescribeUsersCommand, 2);
      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 1);
    });

    it('waits for a modifying group before adding, and backs off when the group refuses as busy', async () => {
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'active'));
      elastiCache
        .on(DescribeUserGroupsCommand)
        .resolvesOnce(group(['default', 'hp-dev-c1-other'], 'modifying', { UserIdsToAdd: ['hp-dev-c1-other'] }))
        .resolvesOnce(group(['default', 'hp-dev-c1-other']))
        .resolvesOnce(group(['default', 'hp-dev-c1-other']))
        .resolves(group(['default', 'hp-dev-c1-other', ACME.userName]));
      elastiCache.on(ModifyUserGroupCommand).rejectsOnce(awsFault(InvalidUserGroupStateFault)).resolves({});

      await adapter().ensureUser(ACME);

      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 2);
      expect(elastiCache).toHaveReceivedNthSpecificCommandWith(2, ModifyUserGroupCommand, { UserGroupId: GROUP, UserIdsToAdd: ['hp-dev-c1-acme'] });
      expect(time.slept).toEqual([1_500, 3_000, 6_000]);
    });

    it('lets two interleaved calls on one group both succeed, with the in-process lock', async () => {
      const service = new SimulatedElastiCache();
      service.install(elastiCache);
      const cacheUsers = adapter();

      await Promise.all([cacheUsers.ensureUser(ACME), cacheUsers.ensureUser(tenantSpec('globex'))]);

      expect(service.group.UserIds).toEqual(['default', 'hp-dev-c1-acme', 'hp-dev-c1-globex']);
      expect(service.group.Status).toBe('active');
      expect(service.refusedAsBusy).toBe(0);
    });

    it('lets two calls from separate processes (no shared lock) both succeed, the one refused as busy retrying', async () => {
      const service = new SimulatedElastiCache();
      service.install(elastiCache);
      const noLock: UserGroupLock = { withGroup: (_groupId, change) => change() };
      const first = adapter({ lock: noLock });
      const second = adapter({ lock: noLock });

      await Promise.all([first.ensureUser(ACME), second.ensureUser(tenantSpec('globex'))]);

      expect([...(service.group.UserIds ?? [])].sort()).toEqual(['default', 'hp-dev-c1-acme', 'hp-dev-c1-globex']);
      expect(service.group.Status).toBe('active');
      expect(service.refusedAsBusy).toBeGreaterThan(0);
      expect(elastiCache).toHaveReceivedCommandWith(ModifyUserGroupCommand, { UserIdsToAdd: ['hp-dev-c1-acme'] });
      expect(elastiCache).toHaveReceivedCommandWith(ModifyUserGroupCommand, { UserIdsToAdd: ['hp-dev-c1-globex'] });
    });

    it('refuses to add to a full group, naming the limit and the group, without trying', async () => {
      const members = ['default', ...Array.from({ length: 98 }, (_, i) => `hp-dev-c1-t${i}`)];
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'active'));
      elastiCache.on(DescribeUserGroupsCommand).resolves(group(members, 'active', { UserIdsToAdd: ['hp-dev-c1-late'] }));

      const error = await errorOf(() => adapter().ensureUser(ACME));

      expect(error.name).toBe(ErrorNames.permanent);
      expect(error.message).toContain(`cache user group ${GROUP} is full`);
      expect(error.message).toContain('at most 100');
      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 0);
    });

    it('reports the service refusing for the group limit as permanent, naming the limit', async () => {
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'active'));
      elastiCache.on(DescribeUserGroupsCommand).resolves(group(['default']));
      elastiCache.on(ModifyUserGroupCommand).rejects(awsFault(UserGroupQuotaExceededFault));

      const error = await errorOf(() => adapter({ maxUsersPerGroup: 20 }).ensureUser(ACME));

      expect(error.name).toBe(ErrorNames.permanent);
      expect(error.message).toMatch(/hp-dev-c1-users is full: .* at most 20/);
    });

    it('turns throttling into Hostplane.Transient, saying what it was doing', async () => {
      elastiCache.on(CreateUserCommand).rejects(throttling());

      const error = await errorOf(() => adapter().ensureUser(ACME));

      expect(error.name).toBe(ErrorNames.transient);
      expect(error.message).toBe('creating cache user hp-dev-c1-acme: Throttling: Rate exceeded');
    });

    it('gives up waiting at the deadline with Hostplane.Transient naming what it waited for', async () => {
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'creating'));

      const error = await errorOf(() => adapter({ waitTimeoutMs: 60_000 }).ensureUser(ACME));

      expect(error.name).toBe(ErrorNames.transient);
      expect(error.message).toContain('waiting for cache user hp-dev-c1-acme to be active (it is creating)');
      expect(time.now()).toBe(60_000);
      expect(Math.max(...time.slept)).toBeLessThanOrEqual(15_000);
      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 0);
    });

    it('reports a missing user group as permanent', async () => {
      elastiCache.on(CreateUserCommand).resolves({});
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'active'));
      elastiCache.on(DescribeUserGroupsCommand).rejects(awsFault(UserGroupNotFoundFault));

      const error = await errorOf(() => adapter().ensureUser(ACME));

      expect(error.name).toBe(ErrorNames.permanent);
      expect(error.message).toContain(`describing cache user group ${GROUP}: UserGroupNotFoundFault`);
    });
  });

  describe('deleteUser', () => {
    // The user as DescribeUsers reports it: in this cache's group only, unless a test says otherwise.
    beforeEach(() => {
      elastiCache.on(DescribeUsersCommand).resolves(user(ACME.userName, 'active'));
    });

    it('takes the user out of another cache\'s group it is in as well, then deletes it', async () => {
      const other = 'hp-dev-c1-users-3';
      elastiCache.on(DescribeUsersCommand).resolves({ Users: [{ UserId: ACME.userName, Status: 'active', UserGroupIds: [other] }] });
      elastiCache.on(DescribeUserGroupsCommand).resolves(group(['default']));
      elastiCache
        .on(DescribeUserGroupsCommand, { UserGroupId: other })
        .resolvesOnce({ UserGroups: [{ UserGroupId: other, Status: 'active', UserIds: ['default', ACME.userName] }] })
        .resolves({ UserGroups: [{ UserGroupId: other, Status: 'active', UserIds: ['default'] }] });
      elastiCache.on(ModifyUserGroupCommand).resolves({});
      elastiCache.on(DeleteUserCommand).resolves({});

      await expect(adapter().deleteUser(ACME.userName)).resolves.toBe(true);

      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 1);
      expect(elastiCache).toHaveReceivedCommandWith(ModifyUserGroupCommand, { UserGroupId: other, UserIdsToRemove: ['hp-dev-c1-acme'] });
      expect(elastiCache).toHaveReceivedCommandWith(DeleteUserCommand, { UserId: 'hp-dev-c1-acme' });
    });

    it('removes a member from the group, waits for the group, then deletes the user', async () => {
      elastiCache
        .on(DescribeUserGroupsCommand)
        .resolvesOnce(group(['default', ACME.userName]))
        .resolvesOnce(group(['default', ACME.userName], 'modifying', { UserIdsToRemove: [ACME.userName] }))
        .resolves(group(['default']));
      elastiCache.on(ModifyUserGroupCommand).resolves({});
      elastiCache.on(DeleteUserCommand).resolves({});

      await expect(adapter().deleteUser(ACME.userName)).resolves.toBe(true);

      expect(elastiCache).toHaveReceivedCommandWith(ModifyUserGroupCommand, { UserGroupId: GROUP, UserIdsToRemove: ['hp-dev-c1-acme'] });
      expect(elastiCache).toHaveReceivedCommandTimes(DescribeUserGroupsCommand, 3);
      expect(elastiCache).toHaveReceivedCommandWith(DeleteUserCommand, { UserId: 'hp-dev-c1-acme' });
    });

    it('returns false for a user that is not there, changing nothing in the group', async () => {
      elastiCache.on(DescribeUserGroupsCommand).resolves(group(['default']));
      elastiCache.on(DeleteUserCommand).rejects(awsFault(UserNotFoundFault));

      await expect(adapter().deleteUser(ACME.userName)).resolves.toBe(false);

      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 0);
      expect(elastiCache).toHaveReceivedCommandTimes(DeleteUserCommand, 1);
    });

    it('waits while the user is busy, then deletes it', async () => {
      elastiCache.on(DescribeUserGroupsCommand).resolves(group(['default']));
      elastiCache.on(DeleteUserCommand).rejectsOnce(awsFault(InvalidUserStateFault)).resolves({});

      await expect(adapter().deleteUser(ACME.userName)).resolves.toBe(true);

      expect(elastiCache).toHaveReceivedCommandTimes(DeleteUserCommand, 2);
      expect(time.slept).toEqual([1_500]);
    });

    it('deletes the user when the user group is gone', async () => {
      elastiCache.on(DescribeUserGroupsCommand).rejects(awsFault(UserGroupNotFoundFault));
      elastiCache.on(DeleteUserCommand).resolves({});

      await expect(adapter().deleteUser(ACME.userName)).resolves.toBe(true);

      expect(elastiCache).toHaveReceivedCommandTimes(ModifyUserGroupCommand, 0);
    });
  });

  describe('userExists', () => {
    it('is true for a user that is there, false for one not found or being deleted', async () => {
      elastiCache
        .on(DescribeUsersCommand)
        .resolvesOnce(user(ACME.userName, 'active'))
        .rejectsOnce(awsFault(UserNotFoundFault))
        .resolvesOnce(user(ACME.userName, 'deleting'));
      const cacheUsers = adapter();

      await expect(cacheUsers.userExists(ACME.userName)).resolves.toBe(true);
      await expect(cacheUsers.userExists(ACME.userName)).resolves.toBe(false);
      await expect(cacheUsers.userExists(ACME.userName)).resolves.toBe(false);
      expect(elastiCache).toHaveReceivedCommandWith(DescribeUsersCommand, { UserId: 'hp-dev-c1-acme' });
    });

    it('turns throttling into Hostplane.Transient', async () => {
      elastiCache.on(DescribeUsersCommand).rejects(throttling());

      const error = await errorOf(() => adapter().userExists(ACME.userName));

      expect(error.name).toBe(ErrorNames.transient);
    });
  });

  describe('listUsers', () => {
    it('reads every page and returns the sorted ids with the prefix, leaving out users being deleted', async () => {
      elastiCache
        .on(DescribeUsersCommand)
        .resolvesOnce({
          Users: [
            { UserId: 'hp-dev-c1-zeta', Status: 'active' },
            { UserId: 'default-user', UserName: 'default', Status: 'active' },
            { UserId: 'hp-prod-c1-acme', Status: 'active' },
          ],
          Marker: 'page-2',
        })
        .resolvesOnce({ Users: [{ UserId: 'hp-dev-c1-acme', Status: 'active' }, { UserId: 'hp-dev-c1-gone', Status: 'deleting' }] });

      await expect(adapter().listUsers('hp-dev-')).resolves.toEqual(['hp-dev-c1-acme', 'hp-dev-c1-zeta']);

      expect(elastiCache).toHaveReceivedCommandTimes(DescribeUsersCommand, 2);
      expect(elastiCache).toHaveReceivedNthSpecificCommandWith(2, DescribeUsersCommand, { Marker: 'page-2' });
    });

    it('refuses a prefix that no user name could start with', async () => {
      await expect(adapter().listUsers('HP_*')).rejects.toThrow(ValidationError);
      expect(elastiCache).toHaveReceivedCommandTimes(DescribeUsersCommand, 0);
    });
  });

  describe('availability', () => {
    it('is available with the endpoint, TLS only, while the group is active or modifying', async () => {
      elastiCache.on(DescribeUserGroupsCommand).resolvesOnce(group(['default'])).resolvesOnce(group(['default'], 'modifying'));
      const cacheUsers = adapter();

      await expect(cacheUsers.availability()).resolves.toEqual({ available: true, endpoint: { ...ENDPOINT, tls: true } });
      await expect(cacheUsers.availability()).resolves.toEqual({ available: true, endpoint: { ...ENDPOINT, tls: true } });
      expect(elastiCache).toHaveReceivedCommandWith(DescribeUserGroupsCommand, { UserGroupId: GROUP });
    });

    it('is unavailable, saying why, when the group is missing or not ready', async () => {
      elastiCache.on(DescribeUserGroupsCommand).rejectsOnce(awsFault(UserGroupNotFoundFault)).resolvesOnce(group(['default'], 'creating'));
      const cacheUsers = adapter();

      await expect(cacheUsers.availability()).resolves.toEqual({ available: false, reason: `the cache user group ${GROUP} does not exist` });
      await expect(cacheUsers.availability()).resolves.toEqual({ available: false, reason: `the cache user group ${GROUP} is creating` });
    });

    it('throws Hostplane.Transient when throttled rather than calling the cache unavailable', async () => {
      elastiCache.on(DescribeUserGroupsCommand).rejects(throttling());

      const error = await errorOf(() => adapter().availability());

      expect(error.name).toBe(ErrorNames.transient);
    });
  });
});

describe('InProcessUserGroupLock', () => {
  it('runs changes to one group one at a time, in order, and a failed change does not block the next', async () => {
    const lock = new InProcessUserGroupLock();
    const events: string[] = [];
    let finishFirst = (): void => undefined;
    const firstMayEnd = new Promise<void>((resolve) => {
      finishFirst = resolve;
    });
    const a = lock.withGroup('g', async () => {
      events.push('a starts');
      await firstMayEnd;
      events.push('a ends');
      throw new Error('a failed');
    });
    const b = lock.withGroup('g', async () => {
      events.push('b runs');
      return 'b';
    });
    const other = lock.withGroup('h', async () => {
      events.push('other group runs');
      return 'other';
    });

    await expect(other).resolves.toBe('other');
    finishFirst();
    await expect(a).rejects.toThrow('a failed');
    await expect(b).resolves.toBe('b');
    expect(events).toEqual(['a starts', 'other group runs', 'a ends', 'b runs']);
  });
});

/**
 * A stand-in for ElastiCache's user and user-group state machine: a change takes a few polls; a
 * group that is not `active` refuses changes with InvalidUserGroupStateFault.
 */
class SimulatedElastiCache {
  readonly users = new Map<string, { status: string; polls: number }>();
  readonly group: UserGroup = { UserGroupId: GROUP, Status: 'active', UserIds: ['default'], PendingChanges: undefined };
  private groupPolls = 0;
  refusedAsBusy = 0;

  install(mock: AwsClientStub<ElastiCacheClient>): void {
    mock.on(CreateUserCommand).callsFake((input: CreateUserCommandInput) => this.createUser(input));
    mock.on(DescribeUsersCommand).callsFake((input: DescribeUsersCommandInput) => this.describeUser(input));
    mock.on(ModifyUserGroupCommand).callsFake((input: ModifyUserGroupCommandInput) => this.modifyGroup(input));
    mock.on(DescribeUserGroupsCommand).callsFake((input: DescribeUserGroupsCommandInput) => this.describeGroup(input));
  }

  private async createUser(input: CreateUserCommandInput) {
    if (this.users.has(input.UserId!)) throw awsFault(UserAlreadyExistsFault);
    this.users.set(input.UserId!, { status: 'creating', polls: 2 });
    return { UserId: input.UserId, Status: 'creating' };
  }

  private async describeUser(input: DescribeUsersCommandInput) {
    const found = this.users.get(input.UserId!);
    if (!found) throw awsFault(UserNotFoundFault);
    if (found.status !== 'active' && --found.polls <= 0) found.status = 'active';
    return user(input.UserId!, found.status);
  }

  private async modifyGroup(input: ModifyUserGroupCommandInput) {
    if (this.group.Status !== 'active') {
      this.refusedAsBusy += 1;
      throw awsFault(InvalidUserGroupStateFault);
    }
    this.group.Status = 'modifying';
    this.group.PendingChanges = { UserIdsToAdd: input.UserIdsToAdd ?? [], UserIdsToRemove: input.UserIdsToRemove ?? [] };
    this.groupPolls = 2;
    return { ...this.group };
  }

  private async describeGroup(input: DescribeUserGroupsCommandInput) {
    if (input.UserGroupId !== GROUP) throw awsFault(UserGroupNotFoundFault);
    if (this.group.Status === 'modifying' && --this.groupPolls <= 0) {
      const pending = this.group.PendingChanges ?? {};
      const kept = (this.group.UserIds ?? []).filter((id) => !pending.UserIdsToRemove?.includes(id));
      this.group.UserIds = [...kept, ...(pending.UserIdsToAdd ?? [])];
      this.group.PendingChanges = undefined;
      this.group.Status = 'active';
    }
    return { UserGroups: [structuredClone(this.group)] };
  }
}
