/**
 * Defect 4 of issue 10: tenant cache URLs were `redis://` against a cache that speaks TLS only.
 * Against the TLS Redis fixture (ElastiCache-like: TLS only, `default` off, RBAC), a tenant cache
 * user made by the cloud path gets a `rediss://` URL, and with it the tenant's generated app caches
 * rows, the reloader (a real process) is woken by a deploy notice the cloud publisher sends, each
 * verifying the server's certificate against the CA given through NODE_EXTRA_CA_CERTS. The same
 * code with a `redis://` URL reaches nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateUserCommand, DescribeUserGroupsCommand, DescribeUsersCommand, ElastiCacheClient, ModifyUserGroupCommand } from '@aws-sdk/client-elasticache';
import { mockClient } from 'aws-sdk-client-mock';
import { Redis } from 'ioredis';
import { ElastiCacheCacheUsers } from '../../cloud/adapters/elasticache-cache-users.js';
import { RedisNotices } from '../../cloud/adapters/redis-notices.js';
import { parseProvisionRequest, planTenant } from '../../lambdas/domain/tenant-plan.js';
import { ensureTenantCacheUser } from '../../lambdas/provision/tenant-cache-user.js';
import { CONTROL_PLANE_CACHE_ACCESS } from '../../lib/cell/cell-cache.js';
import { createTestCertificates, type TestCertificates } from '../../rehearsal/emulators/test-certificates.js';
import { startTlsRedis, type TlsRedis } from '../../rehearsal/emulators/tls-redis.js';
import { bookshop, call, killAllApps, startApp, writeRelease, type ReleaseDir } from '../codegen/support/app-process.js';
import { createTenantDatabase, dropTenantDatabases, migrateTenant, type TenantDatabase } from '../codegen/support/tenant-database.js';
import { get } from '../runtime/support/http-load.js';
import { flipCurrent, makeAppDir, publishRelease } from '../runtime/support/release-dir.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pollUntil } from '../support/poll.js';
import { uniqueEnvironment } from '../support/services.js';

const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const RELOADER_MAIN = join(repositoryRoot, 'runtime', 'reloader', 'main.ts');

const environment = uniqueEnvironment('tc');
const plan = planTenant(parseProvisionRequest({ tenantId: 'acme' }), environment, 'c1');
const { cacheUser, cacheSecret, cacheChannelPattern } = plan.names;
const deployChannel = cacheChannelPattern.replace('*', 'deploy');
const controlPlaneUser = `hp-${environment}-control-plane`;
const controlPlanePassword = `cp${Date.now().toString(36)}ControlPlanePassword`;

/** The same URL with the other scheme: what the defect handed out. */
function withScheme(url: string, scheme: 'redis' | 'rediss'): string {
  return url.replace(/^rediss?:/, `${scheme}:`);
}

describe('tenant cache over TLS (ElastiCache-like Redis: TLS only, default user off, RBAC)', () => {
  const elastiCache = mockClient(ElastiCacheClient);
  const secrets = new MemorySecrets();
  const reloaders: ChildProcess[] = [];
  const publishers: RedisNotices[] = [];
  let certificates: TestCertificates;
  let cache: TlsRedis;
  let admin: Redis;
  let tenantUrl: string;
  let keyPrefix: string;

  beforeAll(async () => {
    certificates = await createTestCertificates();
    cache = await startTlsRedis({ certificates });
    admin = new Redis(cache.adminUrl, { tls: { ca: readFileSync(cache.caFile) }, lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    // The cell's control-plane user, as lib/cell/cell-cache.ts declares it.
    await admin.call('ACL', 'SETUSER', controlPlaneUser, 'reset', `>${controlPlanePassword}`, ...CONTROL_PLANE_CACHE_ACCESS.split(' '));

    // The cloud adapter over a stand-in ElastiCache API that accepts every change at once; the
    // user it creates is then made on the TLS Redis as ElastiCache would: its access string and password.
    elastiCache.on(DescribeUserGroupsCommand).resolvesOnce(group(['default'])).resolvesOnce(group(['default'])).resolves(group(['default', cacheUser]));
    elastiCache.on(CreateUserCommand).resolves({});
    elastiCache.on(DescribeUsersCommand).resolves({ Users: [{ UserId: cacheUser, Status: 'active' }] });
    elastiCache.on(ModifyUserGroupCommand).resolves({});
    const cacheUsers = new ElastiCacheCacheUsers({
      client: new ElastiCacheClient({ region: 'eu-west-1' }),
      userGroupId: 'cell-users',
      endpoint: { host: cache.host, port: cache.port },
      sleep: async () => undefined,
    });
    await ensureTenantCacheUser(plan, cacheUsers, secrets);
    const created = elastiCache.commandCalls(CreateUserCommand)[0]!.args[0].input;
    await admin.call('ACL', 'SETUSER', cacheUser, 'reset', `>${created.Passwords![0]}`, ...created.AccessString!.split(' '));

    const secret = (await secrets.get(cacheSecret))!;
    tenantUrl = secret.url!;
    keyPrefix = secret.keyPrefix!;
  });

  afterAll(async () => {
    await killAllApps();
    for (const child of reloaders) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(publishers.map((publisher) => publisher.close()));
    admin?.disconnect();
    await cache?.stop();
    await certificates?.remove();
    elastiCache.restore();
  });

  it('hands the tenant a rediss:// URL for its own user, on the cache the cell advertises', () => {
    const url = new URL(tenantUrl);
    expect(url.protocol).toBe('rediss:');
    expect(url.username).toBe(cacheUser);
    expect(`${url.hostname}:${url.port}`).toBe(`${cache.host}:${cache.port}`);
  });

  it('refuses the default user, and lets the tenant user reach only its own keys', async () => {
    const anonymous = tlsClient(`rediss://${cache.host}:${cache.port}`);
    anonymous.on('error', () => undefined);
    await expect(anonymous.set(`${keyPrefix}x`, '1')).rejects.toThrow(/NOAUTH|NOPERM|WRONGPASS|disabled/i);
    anonymous.disconnect();

    const tenant = tlsClient(tenantUrl);
    await tenant.set(`${keyPrefix}probe`, 'mine');
    await expect(tenant.set('t:other:probe', 'theirs')).rejects.toThrow(/NOPERM/);
    tenant.disconnect();
  });

  describe("the tenant's generated app", () => {
    const prefix = `${environment}_app`;
    let release: ReleaseDir;
    let database: TenantDatabase;

    beforeAll(async () => {
      release = await writeRelease(bookshop());
      database = await createTenantDatabase(prefix);
      await migrateTenant(database, bookshop());
    });

    afterAll(async () => {
      await killAllApps();
      await dropTenantDatabases(prefix);
      await release?.remove();
    });

    async function bookReadTwice(url: string): Promise<number> {
      const created = await call(url, 'POST', '/api/book', { title: 'Dune' });
      expect(created.status).toBe(201);
      const id = (created.body as { id: number }).id;
      expect((await call(url, 'GET', `/api/book/${id}`)).status).toBe(200);
      expect((await call(url, 'GET', `/api/book/${id}`)).status).toBe(200);
      return id;
    }

    it('caches rows in its own key prefix over TLS, trusting the CA given in NODE_EXTRA_CA_CERTS', async () => {
      const env = { ...database.pgEnv, REDIS_URL: tenantUrl, HOSTPLANE_CACHE_PREFIX: keyPrefix, NODE_EXTRA_CA_CERTS: cache.caFile };
      const { app, url } = await startApp(release, env);

      const id = await bookReadTwice(url);

      const keys = await pollUntil(async () => {
        const found = await admin.keys(`${keyPrefix}*:book:${id}`);
        return found.length > 0 ? found : undefined;
      }, { what: `book ${id} in the cache; app output:\n${app.output()}` });
      expect(keys).toHaveLength(1);
      expect(app.output()).not.toMatch(/cache: /);
    });

    it('with a redis:// URL (the defect) caches nothing and says why', async () => {
      const env = { ...database.pgEnv, REDIS_URL: withScheme(tenantUrl, 'redis'), HOSTPLANE_CACHE_PREFIX: keyPrefix, NODE_EXTRA_CA_CERTS: cache.caFile };
      const { app, url } = await startApp(release, env);

      const id = await bookReadTwice(url);

      expect(await admin.keys(`${keyPrefix}*:book:${id}`)).toEqual([]);
      await pollUntil(() => (/cache: /.test(app.output()) ? true : undefined), { what: `the app to report the cache failing; output:\n${app.output()}` });
    });
  });

  describe('deploy notices: the cloud publisher to the reloader', () => {
    let appDir: string;

    beforeAll(async () => {
      appDir = await makeAppDir();
      await publishRelease(appDir, 'v1');
      await flipCurrent(appDir, 'v1');
    });

    afterAll(async () => {
      for (const child of reloaders) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(appDir, { recursive: true, force: true });
    });

    function publisher(tls: boolean): { notices: RedisNotices; logs: string[] } {
      const logs: string[] = [];
      const notices = new RedisNotices({
        host: cache.host,
        port: cache.port,
        tls,
        ca: readFileSync(cache.caFile, 'utf8'),
        credentials: async () => ({ username: controlPlaneUser, password: controlPlanePassword }),
        log: (line) => logs.push(line),
      });
      publishers.push(notices);
      return { notices, logs };
    }

    function runReloader(redisUrl: string): { output: () => string; exited: Promise<number | null>; child: ChildProcess } {
      const env = {
        PATH: process.env.PATH,
        HOSTPLANE_APP_DIR: appDir,
        PORT: '0',
        // Only a notice can reveal a new release within the test's deadline.
        HOSTPLANE_RELOADER_POLL_MS: '600000',
        REDIS_URL: redisUrl,
        HOSTPLANE_CACHE_PREFIX: keyPrefix,
        NODE_EXTRA_CA_CERTS: cache.caFile,
      };
      const child = spawn(process.execPath, ['--import', 'tsx', RELOADER_MAIN], { cwd: repositoryRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      reloaders.push(child);
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { output: () => output, exited, child };
    }

    async function servedRelease(port: number): Promise<string> {
      return (JSON.parse((await get(port, '/info')).body) as { releaseId: string }).releaseId;
    }

    it('wakes the reloader over TLS, as the tenant user, on a notice the control plane publishes over TLS', async () => {
      const run = runReloader(tenantUrl);
      const ready = await pollUntil(() => /reloader ready: app on 127\.0\.0\.1:(\d+)/.exec(run.output()) ?? undefined, { what: 'the reloader to start' });
      const port = Number(ready[1]);
      expect(await pollUntil(() => servedRelease(port), { what: 'v1 to answer' })).toBe('v1');
      await pollUntil(() => (run.output().includes(`woken by deploy notices on ${deployChannel} at rediss://`) ? true : undefined), {
        what: `the TLS subscription; output so far:\n${run.output()}`,
      });

      await publishRelease(appDir, 'v2');
      await flipCurrent(appDir, 'v2');
      const { notices, logs } = publisher(true);
      expect(await notices.notify(deployChannel, 'v2')).toBe(1);
      expect(logs).toEqual([]);
      await pollUntil(async () => ((await servedRelease(port)) === 'v2' ? true : undefined), { what: 'v2 to answer after the notice', timeoutMs: 10_000 });

      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    });

    it('with redis:// (the defect) neither subscribes nor publishes', async () => {
      await flipCurrent(appDir, 'v1');
      const run = runReloader(withScheme(tenantUrl, 'redis'));
      await pollUntil(() => (/reloader ready/.test(run.output()) ? true : undefined), { what: 'the reloader to start' });
      await pollUntil(() => (/deploy notices from \S+ at redis:\/\/\S+ unavailable/.test(run.output()) ? true : undefined), {
        what: `the failed subscription to be logged; output so far:\n${run.output()}`,
      });
      expect(run.output()).not.toContain('woken by deploy notices');

      const { notices, logs } = publisher(false);
      expect(await notices.notify(deployChannel, 'v1')).toBe(0);
      expect(logs.join('\n')).toMatch(/not sent/);

      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    });
  });

  function tlsClient(url: string): Redis {
    return new Redis(url, { tls: { ca: readFileSync(cache.caFile) }, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null });
  }
});

function group(userIds: string[]) {
  return { UserGroups: [{ UserGroupId: 'cell-users', Status: 'active', Engine: 'redis', UserIds: userIds }] };
}
