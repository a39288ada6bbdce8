/**
 * Deploy notices on the tenant's cache channel, on the machine's real Redis, as a tenant cache user
 * limited like the real ones (`~t:<x>:* &t:<x>:*`): a notice wakes the reloader, another tenant's
 * does not, and a Redis that is away is logged once and never stops it.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { tenantAclRules } from '../../lambdas/ports/cache-acl.js';
import { freeLoopbackPort, isProcessAlive } from '../../local/process-helpers.js';
import { subscribeToCacheNotices, type CacheNotices } from '../../runtime/reloader/cache-notices.js';
import { pollUntil } from '../support/poll.js';
import { TEST_REDIS_URL, uniqueEnvironment } from '../support/services.js';
import { get } from './support/http-load.js';
import { flipCurrent, makeAppDir, publishRelease } from './support/release-dir.js';

const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const MAIN = join(repositoryRoot, 'runtime', 'reloader', 'main.ts');

const environment = uniqueEnvironment('n');
const tenant = `a${environment}`;
const otherTenant = `b${environment}`;
const userName = `hp-${environment}-notices`;
const password = randomBytes(24).toString('base64url');

/** TEST_REDIS_URL's endpoint, as the tenant's cache user. */
function tenantUrl(): string {
  const url = new URL(TEST_REDIS_URL);
  url.username = userName;
  url.password = password;
  return url.toString();
}

describe('cache notices: the reloader woken on t:<tenant>:deploy', () => {
  const admin = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const opened: CacheNotices[] = [];
  const servers: Server[] = [];

  function subscribe(url: string, channel: string, backoff?: { initialMs: number; maxMs: number }) {
    const logs: string[] = [];
    let wakes = 0;
    const notices = subscribeToCacheNotices({ url, channel, wake: () => (wakes += 1), log: (line) => logs.push(line), backoff });
    opened.push(notices);
    return { notices, logs, wakes: () => wakes };
  }

  beforeAll(async () => {
    await admin.connect();
    const rules = tenantAclRules({ userName, password, keyPattern: `t:${tenant}:*`, channelPattern: `t:${tenant}:*` });
    await admin.call('ACL', 'SETUSER', userName, ...rules);
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((notices) => notices.close()));
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  afterAll(async () => {
    try {
      await admin.call('ACL', 'DELUSER', userName);
    } finally {
      admin.disconnect();
    }
  });

  it('wakes on a PUBLISH to its own deploy channel, as a user limited to t:<tenant>:*', async () => {
    const channel = `t:${tenant}:deploy`;
    const subscribed = subscribe(tenantUrl(), channel);
    await pollUntil(() => (subscribed.logs.some((line) => line.startsWith('woken by deploy notices')) ? true : undefined), {
      what: `the subscription; logs: ${subscribed.logs.join(' | ')}`,
    });
    expect(subscribed.logs.join('\n')).not.toContain(password);
    // Subscribed, it reads current once at once: a notice sent before the subscription was in place is not lost.
    expect(subscribed.wakes()).toBe(1);

    await admin.publish(channel, 'release-2');
    await pollUntil(() => (subscribed.wakes() === 2 ? true : undefined), { what: 'the notice to wake it' });
  });

  it("is not woken by another tenant's channel", async () => {
    const subscribed = subscribe(tenantUrl(), `t:${tenant}:deploy`);
    await pollUntil(() => (subscribed.logs.some((line) => line.startsWith('woken by')) ? true : undefined), { what: 'the subscription' });

    // One connection delivers in order: once its own notice is in, the other tenant's would have been too.
    const before = subscribed.wakes();
    await admin.publish(`t:${otherTenant}:deploy`, 'release-9');
    await admin.publish(`t:${tenant}:other`, 'not a deploy');
    await admin.publish(`t:${tenant}:deploy`, 'release-3');
    await pollUntil(() => (subscribed.wakes() > before ? true : undefined), { what: 'its own notice' });
    expect(subscribed.wakes()).toBe(before + 1);
  });

  it('resubscribes after the connection is lost, and wakes once each time for what it may have missed', async () => {
    const channel = `t:${tenant}:deploy`;
    const subscribed = subscribe(tenantUrl(), channel, { initialMs: 10, maxMs: 50 });
    await pollUntil(() => (subscribed.logs.some((line) => line.startsWith('woken by')) ? true : undefined), { what: 'the subscription' });
    expect(subscribed.wakes()).toBe(1);

    await admin.call('CLIENT', 'KILL', 'USER', userName);
    await pollUntil(() => (subscribed.logs.some((line) => line.includes('are back')) ? true : undefined), {
      what: `the subscription to come back; logs: ${subscribed.logs.join(' | ')}`,
    });
    expect(subscribed.logs.filter((line) => line.includes(' lost;'))).toHaveLength(1);
    expect(subscribed.wakes()).toBe(2);

    await admin.publish(channel, 'release-4');
    await pollUntil(() => (subscribed.wakes() === 3 ? true : undefined), { what: 'a notice after the reconnection' });
  });

  it("cannot listen on another tenant's channel: the refusal is logged, nothing throws", async () => {
    const subscribed = subscribe(tenantUrl(), `t:${otherTenant}:deploy`);
    const refused = await pollUntil(() => subscribed.logs.find((line) => line.includes('refused')), { what: 'the refusal' });
    expect(refused).toMatch(/NOPERM/);
    expect(subscribed.wakes()).toBe(0);
  });

  it('logs an unreachable Redis and does not throw', async () => {
    const port = await freeLoopbackPort();
    const subscribed = subscribe(`redis://${userName}:${password}@127.0.0.1:${port}`, `t:${tenant}:deploy`, { initialMs: 20, maxMs: 50 });
    const line = await pollUntil(() => subscribed.logs[0], { what: 'a log line' });
    expect(line).toMatch(/unavailable \(connection refused\); polling current only/);
    expect(line).not.toContain(password);
    await expect(subscribed.notices.close()).resolves.toBeUndefined();
  });

  it('logs once however many times the connection attempts fail', async () => {
    let attempts = 0;
    const server = createServer((socket: Socket) => {
      attempts += 1;
      socket.destroy();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;

    const subscribed = subscribe(`redis://127.0.0.1:${port}`, `t:${tenant}:deploy`, { initialMs: 10, maxMs: 20 });
    await pollUntil(() => (attempts >= 5 ? true : undefined), { what: 'five connection attempts' });
    expect(subscribed.logs).toHaveLength(1);
    expect(subscribed.wakes()).toBe(0);
  });
});

describe('cache notices: the reloader process', () => {
  interface Running {
    readonly child: ChildProcess;
    readonly output: () => string;
    readonly exited: Promise<number | null>;
  }
  const admin = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const started: Running[] = [];
  const appPids: number[] = [];
  let appDir: string;

  function runReloader(env: NodeJS.ProcessEnv): Running {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: repositoryRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const run = { child, output: () => output, exited };
    started.push(run);
    return run;
  }

  async function servedRelease(port: number): Promise<{ releaseId: string; pid: number }> {
    return JSON.parse((await get(port, '/info')).body) as { releaseId: string; pid: number };
  }

  function baseEnv(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOSTPLANE_APP_DIR: appDir,
      PORT: '0',
      // A poll interval no test would wait for: only a notice can reveal a new release.
      HOSTPLANE_RELOADER_POLL_MS: '600000',
      HOSTPLANE_CACHE_PREFIX: `t:${tenant}:`,
    };
  }

  beforeAll(async () => {
    await admin.connect();
    const rules = tenantAclRules({ userName, password, keyPattern: `t:${tenant}:*`, channelPattern: `t:${tenant}:*` });
    await admin.call('ACL', 'SETUSER', userName, ...rules);
    appDir = await makeAppDir();
    await publishRelease(appDir, 'v1');
    await flipCurrent(appDir, 'v1');
  });

  afterAll(async () => {
    for (const run of started) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await Promise.all(started.map((run) => run.exited));
    for (const pid of appPids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    await rm(appDir, { recursive: true, force: true });
    try {
      await admin.call('ACL', 'DELUSER', userName);
    } finally {
      admin.disconnect();
    }
  });

  it('swaps on a notice long before its next poll, and exits 0 on SIGTERM', async () => {
    const run = runReloader({ ...baseEnv(), REDIS_URL: tenantUrl() });
    const ready = await pollUntil(() => /reloader ready: app on 127\.0\.0\.1:(\d+)/.exec(run.output()) ?? undefined, { what: 'the reloader to start' });
    const port = Number(ready[1]);
    appPids.push((await pollUntil(() => servedRelease(port), { what: 'v1 to answer' })).pid);
    await pollUntil(() => (run.output().includes(`woken by deploy notices on t:${tenant}:deploy`) ? true : undefined), {
      what: `the subscription; output so far:\n${run.output()}`,
    });

    await publishRelease(appDir, 'v2');
    await flipCurrent(appDir, 'v2');
    await admin.publish(`t:${tenant}:deploy`, 'v2');
    const v2 = await pollUntil(
      async () => {
        const info = await servedRelease(port);
        return info.releaseId === 'v2' ? info : undefined;
      },
      { what: 'v2 to answer after the notice', timeoutMs: 10_000 },
    );
    appPids.push(v2.pid);
    expect(run.output()).not.toContain(password);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('serves with Redis down, saying so once', async () => {
    await flipCurrent(appDir, 'v1');
    const port = await freeLoopbackPort();
    const run = runReloader({ ...baseEnv(), REDIS_URL: `redis://127.0.0.1:${port}` });
    const ready = await pollUntil(() => /reloader ready: app on 127\.0\.0\.1:(\d+)/.exec(run.output()) ?? undefined, { what: 'the reloader to start' });
    const info = await pollUntil(() => servedRelease(Number(ready[1])), { what: 'v1 to answer' });
    appPids.push(info.pid);
    expect(info.releaseId).toBe('v1');
    await pollUntil(() => (run.output().includes('unavailable (connection refused)') ? true : undefined), { what: 'the outage to be logged' });

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output().match(/deploy notices/g)).toHaveLength(1);
  });

  it('exits 2 on a malformed cache prefix', async () => {
    const run = runReloader({ ...baseEnv(), REDIS_URL: tenantUrl(), HOSTPLANE_CACHE_PREFIX: 't:*' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/HOSTPLANE_CACHE_PREFIX: must be/);
  });
});
