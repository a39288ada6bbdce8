import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisNotices } from '../../cloud/adapters/redis-notices.js';
import { ValidationError } from '../../lambdas/domain/errors.js';
import { freeLoopbackPort } from '../../local/process-helpers.js';
import { pollUntil } from '../support/poll.js';
import { TEST_REDIS_URL, uniqueEnvironment } from '../support/services.js';

const redisUrl = new URL(TEST_REDIS_URL);
const host = redisUrl.hostname;
const port = Number(redisUrl.port || 6379);
const tenant = `n${uniqueEnvironment()}`;
const channel = `t:${tenant}:deploy`;
/** The control plane's own cache user, as the cell would define it: PUBLISH on tenant channels, nothing else. */
const publisherName = `hp-notices-${tenant}`;
const publisherPassword = randomBytes(24).toString('base64url');

describe('RedisNotices', () => {
  const admin = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const subscriber = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const received: string[] = [];
  const adapters: RedisNotices[] = [];

  function notices(options: ConstructorParameters<typeof RedisNotices>[0]): { notices: RedisNotices; logged: string[] } {
    const logged: string[] = [];
    const adapter = new RedisNotices({ log: (line) => logged.push(line), ...options });
    adapters.push(adapter);
    return { notices: adapter, logged };
  }

  beforeAll(async () => {
    await admin.connect();
    await admin.call('ACL', 'SETUSER', publisherName, 'reset', 'on', `>${publisherPassword}`, 'resetchannels', '&t:*', '-@all', '+publish');
    await subscriber.connect();
    subscriber.on('message', (_channel: string, message: string) => received.push(message));
    await subscriber.subscribe(channel);
  });

  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
    received.length = 0;
  });

  afterAll(async () => {
    await admin.call('ACL', 'DELUSER', publisherName).catch(() => undefined);
    await subscriber.quit();
    await admin.quit();
  });

  it('publishes on the tenant channel as the control plane user, and the subscribed runtime receives it', async () => {
    const { notices: adapter, logged } = notices({ host, port, username: publisherName, password: publisherPassword, tls: false });

    await expect(adapter.notify(channel, 'release-1')).resolves.toBe(1);
    await expect(adapter.notify(channel, 'release-2')).resolves.toBe(1);

    await pollUntil(() => (received.length === 2 ? true : undefined), { what: 'both notices to arrive' });
    expect(received).toEqual(['release-1', 'release-2']);
    expect(logged).toEqual([]);
  });

  it('finds its credentials through a factory, only when the first notice is sent', async () => {
    let asked = 0;
    const { notices: adapter } = notices({
      host,
      port,
      tls: false,
      credentials: async () => {
        asked += 1;
        return { username: publisherName, password: publisherPassword };
      },
    });
    expect(asked).toBe(0);

    await expect(adapter.notify(channel, 'release-3')).resolves.toBe(1);
    await expect(adapter.notify(channel, 'release-4')).resolves.toBe(1);

    expect(asked).toBe(1);
  });

  it('resolves 0 quickly and logs when nothing listens on the port', async () => {
    const closedPort = await freeLoopbackPort();
    const { notices: adapter, logged } = notices({ host: '127.0.0.1', port: closedPort, tls: false });

    const started = Date.now();
    await expect(adapter.notify(channel, 'release-5')).resolves.toBe(0);

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(`notice on ${channel} not sent`);
  });

  it('resolves 0 and logs when the factory cannot find the credentials', async () => {
    const { notices: adapter, logged } = notices({
      host,
      port,
      tls: false,
      credentials: () => Promise.reject(new Error('secret hostplane/dev/c1/notices not readable')),
    });

    await expect(adapter.notify(channel, 'release-6')).resolves.toBe(0);
    expect(logged[0]).toContain('secret hostplane/dev/c1/notices not readable');
  });

  it('resolves 0 and logs when the cache refuses the credentials', async () => {
    const { notices: adapter, logged } = notices({ host, port, username: publisherName, password: 'not-the-password-at-all', tls: false });

    await expect(adapter.notify(channel, 'release-7')).resolves.toBe(0);
    expect(logged).toHaveLength(1);
  });

  it('reconnects after its connection is lost', async () => {
    const { notices: adapter } = notices({ host, port, username: publisherName, password: publisherPassword, tls: false });
    await expect(adapter.notify(channel, 'release-8')).resolves.toBe(1);

    await admin.call('CLIENT', 'KILL', 'USER', publisherName);

    await pollUntil(async () => ((await adapter.notify(channel, 'release-9')) === 1 ? true : undefined), { what: 'a notice after reconnecting' });
  });

  it('refuses a channel that is not a tenant channel', async () => {
    const { notices: adapter } = notices({ host, port, tls: false });

    await expect(adapter.notify('__keyspace@0__:*', 'x')).rejects.toThrow(ValidationError);
  });
});
