import { randomBytes } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { freeLoopbackPort } from '../../local/process-helpers.js';
import { Redis } from 'ioredis';
import { TransientError, ValidationError } from '../../lambdas/domain/errors.js';
import { tenantResourceNames } from '../../lambdas/domain/naming.js';
import { tenantIdSchema } from '../../lambdas/domain/tenant-id.js';
import type { CacheUserSpec } from '../../lambdas/ports/cache-users.js';
import { RedisCacheUsers } from '../../local/adapters/redis-cache-users.js';
import { pollUntil } from '../support/poll.js';
import { TEST_REDIS_URL, uniqueEnvironment } from '../support/services.js';

const environment = uniqueEnvironment();
const scope = { environment, cell: 'local' };

function tenantSpec(tenant: string): CacheUserSpec {
  const names = tenantResourceNames(scope, tenantIdSchema.parse(tenant));
  return {
    userName: names.cacheUser,
    password: randomBytes(24).toString('base64url'),
    keyPattern: names.cacheKeyPattern,
    channelPattern: names.cacheChannelPattern,
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

describe('RedisCacheUsers', () => {
  const a = `a${environment}`;
  const b = `b${environment}`;
  const specA = tenantSpec(a);
  const specB = tenantSpec(b);
  const cacheUsers = new RedisCacheUsers({ url: TEST_REDIS_URL });
  const admin = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const tenantClients: Redis[] = [];

  async function connectAs(spec: CacheUserSpec): Promise<Redis> {
    const availability = await cacheUsers.availability();
    if (!availability.available) throw new Error(availability.reason);
    const { host, port, tls } = availability.endpoint;
    const client = new Redis({
      host,
      port,
      ...(tls ? { tls: {} } : {}),
      username: spec.userName,
      password: spec.password,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    tenantClients.push(client);
    await client.connect();
    return client;
  }

  let tenantA: Redis;

  beforeAll(async () => {
    await admin.connect();
    await cacheUsers.ensureUser(specA);
    await cacheUsers.ensureUser(specB);
    tenantA = await connectAs(specA);
  });

  afterAll(async () => {
    for (const client of tenantClients) client.disconnect();
    try {
      await admin.del(`t:${a}:x`, `t:${b}:x`);
      await admin.call('ACL', 'DELUSER', specA.userName, specB.userName);
    } finally {
      admin.disconnect();
      await cacheUsers.close();
    }
  });

  it("delivers a deploy notice to the tenant's subscriber, on its own channel only", async () => {
    const subscriber = await connectAs(specA);
    const received: string[] = [];
    subscriber.on('message', (channel: string, message: string) => received.push(`${channel} ${message}`));
    await subscriber.subscribe(`t:${a}:deploy`);
    try {
      expect(await cacheUsers.notify(`t:${a}:deploy`, 'release-1')).toBe(1);
      await expect(cacheUsers.notify('anything:goes', 'x')).rejects.toThrow(/must be a tenant channel/);
      await pollUntil(() => (received.length > 0 ? true : undefined), { what: 'the notice' });
      expect(received).toEqual([`t:${a}:deploy release-1`]);
    } finally {
      // Leaves the subscription (afterAll disconnects every tenant client once).
      await subscriber.unsubscribe();
    }
  });

  it('reports the Redis it reaches, where tenants find it, and whether it speaks TLS (rediss://)', async () => {
    const availability = await cacheUsers.availability();

    const url = new URL(TEST_REDIS_URL);
    expect(availability).toEqual({ available: true, endpoint: { host: url.hostname, port: Number(url.port || 6379), tls: url.protocol === 'rediss:' } });
  });

  it('lets a tenant read and write its own keys', async () => {
    await tenantA.set(`t:${a}:x`, 'mine', 'EX', 60);

    expect(await tenantA.get(`t:${a}:x`)).toBe('mine');
    expect(await tenantA.ttl(`t:${a}:x`)).toBeGreaterThan(0);
    expect(await tenantA.del(`t:${a}:x`)).toBe(1);
  });

  it("refuses a tenant another tenant's keys", async () => {
    await admin.set(`t:${b}:x`, 'theirs');

    expect((await errorOf(() => tenantA.get(`t:${b}:x`))).message).toMatch(/^NOPERM/);
    expect((await errorOf(() => tenantA.set(`t:${b}:x`, 'overwritten'))).message).toMatch(/^NOPERM/);
    expect((await errorOf(() => tenantA.del(`t:${b}:x`))).message).toMatch(/^NOPERM/);
    expect(await admin.get(`t:${b}:x`)).toBe('theirs');
  });

  it("hides other tenants' key names", async () => {
    for (const command of [['KEYS', '*'], ['SCAN', '0'], ['RANDOMKEY'], ['SELECT', '1']]) {
      const [name, ...args] = command as [string, ...string[]];
      expect((await errorOf(() => tenantA.call(name, ...args))).message).toMatch(/^NOPERM/);
    }
  });

  it('lets a tenant publish and subscribe on its own channels only', async () => {
    const subscriber = await connectAs(specA);
    const received: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => received.push(message));
    await subscriber.subscribe(`t:${a}:deploy`);

    await admin.publish(`t:${a}:deploy`, 'release-1');
    expect(await tenantA.publish(`t:${a}:deploy`, 'release-2')).toBe(1);

    await pollUntil(() => (received.length === 2 ? true : undefined), { what: 'both messages' });
    expect(received).toEqual(['release-1', 'release-2']);
    expect((await errorOf(() => tenantA.publish(`t:${b}:deploy`, 'hello'))).message).toMatch(/^NOPERM/);
    const otherSubscriber = await connectAs(specA);
    expect((await errorOf(() => otherSubscriber.subscribe(`t:${b}:deploy`))).message).toMatch(/^NOPERM/);
  });

  it('refuses a tenant admin and server-wide commands', async () => {
    for (const command of [['FLUSHALL'], ['FLUSHDB'], ['ACL', 'LIST'], ['CONFIG', 'GET', 'maxmemory'], ['CLIENT', 'LIST'], ['FUNCTION', 'FLUSH'], ['PUBSUB', 'CHANNELS']]) {
      const [name, ...args] = command as [string, ...string[]];
      expect((await errorOf(() => tenantA.call(name, ...args))).message).toMatch(/^NOPERM/);
    }
  });

  it('brings an existing user to its spec when ensured again', async () => {
    const before = await admin.call('ACL', 'GETUSER', specB.userName);
    await cacheUsers.ensureUser(specB);
    await cacheUsers.ensureUser(specB);

    expect(await admin.call('ACL', 'GETUSER', specB.userName)).toEqual(before);
    const tenantB = await connectAs(specB);
    expect(await tenantB.get(`t:${b}:x`)).toBe('theirs');
  });

  it('deletes a user if present and says whether it was', async () => {
    const spec = tenantSpec(`c${environment}`);
    await cacheUsers.ensureUser(spec);
    expect(await cacheUsers.userExists(spec.userName)).toBe(true);

    expect(await cacheUsers.deleteUser(spec.userName)).toBe(true);
    expect(await cacheUsers.deleteUser(spec.userName)).toBe(false);
    expect(await cacheUsers.userExists(spec.userName)).toBe(false);
  });

  it('refuses bad names, patterns and passwords before sending anything', async () => {
    const unreachable = new RedisCacheUsers({ url: `redis://127.0.0.1:${await freeLoopbackPort()}` });
    const bad: CacheUserSpec[] = [
      { ...specA, userName: 'evil on >pw ~* +@all' },
      { ...specA, userName: 'Upper' },
      { ...specA, userName: '' },
      { ...specA, keyPattern: '*' },
      { ...specA, keyPattern: `t:${a}:* ~*` },
      { ...specA, channelPattern: '&*' },
      { ...specA, password: 'short' },
      { ...specA, password: 'has a space in it somewhere' },
    ];
    try {
      for (const spec of bad) {
        const error = await errorOf(() => unreachable.ensureUser(spec));
        expect(error).toBeInstanceOf(ValidationError);
        expect(error.message).not.toContain(spec.password);
      }
      const error = await errorOf(() => unreachable.deleteUser('bad user'));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.message).toContain('"bad user"');
      expect(await errorOf(() => unreachable.userExists('*'))).toBeInstanceOf(ValidationError);
    } finally {
      await unreachable.close();
    }
  });

  it('says quickly and clearly when no Redis is there', async () => {
    const url = `redis://127.0.0.1:${await freeLoopbackPort()}`;
    const unreachable = new RedisCacheUsers({ url });
    try {
      const started = Date.now();
      const availability = await unreachable.availability();

      expect(Date.now() - started).toBeLessThan(5_000);
      expect(availability).toEqual({ available: false, reason: expect.stringContaining(`no Redis reachable at ${url} (connection refused)`) });
      expect(await errorOf(() => unreachable.ensureUser(specA))).toBeInstanceOf(TransientError);
    } finally {
      await unreachable.close();
    }
  });
});

describe('RedisCacheUsers.listUsers', () => {
  const cacheUsers = new RedisCacheUsers({ url: TEST_REDIS_URL });
  const ours = uniqueEnvironment('l');
  const theirs = uniqueEnvironment('m');
  const specs = [tenantSpec(`one${ours}`), tenantSpec(`two${ours}`)].map((spec) => ({ ...spec, userName: spec.userName.replace(`hp-${environment}-`, `hp-${ours}-`) }));
  const other = { ...tenantSpec(`one${theirs}`), userName: `hp-${theirs}-local-one${theirs}` };

  afterAll(async () => {
    try {
      for (const spec of [...specs, other]) await cacheUsers.deleteUser(spec.userName);
    } finally {
      await cacheUsers.close();
    }
  });

  it('lists the users whose names start with the prefix, sorted, and only those', async () => {
    for (const spec of [...specs].reverse()) await cacheUsers.ensureUser(spec);
    await cacheUsers.ensureUser(other);

    const listed = await cacheUsers.listUsers(`hp-${ours}-`);

    expect(listed).toEqual(specs.map((spec) => spec.userName).sort());
    expect(await cacheUsers.listUsers(`hp-${uniqueEnvironment('n')}-`)).toEqual([]);
  });

  it('refuses a prefix that is not the start of a user name, and throws a TransientError when no Redis is there', async () => {
    const unreachable = new RedisCacheUsers({ url: `redis://127.0.0.1:${await freeLoopbackPort()}` });
    try {
      expect(await errorOf(() => cacheUsers.listUsers('hp-* on'))).toBeInstanceOf(ValidationError);
      expect(await errorOf(() => unreachable.listUsers('hp-'))).toBeInstanceOf(TransientError);
    } finally {
      await unreachable.close();
    }
  });
});
