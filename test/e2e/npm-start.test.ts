import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import { api, getThroughFrontDoor, waitForRelease } from '../support/control-plane.js';
import { send } from '../support/http.js';
import { pollUntil } from '../support/poll.js';
import { TEST_REDIS_URL, uniqueEnvironment } from '../support/services.js';

const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

function run(command: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repositoryRoot, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) child.stdin!.end(input);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** `npm start` as a user runs it: embedded PostgreSQL, nothing given but a state folder and free ports. */
describe('npm start, end to end', () => {
  const environment = uniqueEnvironment('e');
  let stateDir: string;
  let child: ChildProcess | undefined;
  let output = '';
  let apiUrl = '';
  let edgePort = 0;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hostplane-e2e-'));
    // Run as root, the embedded PostgreSQL is the `postgres` user: it must be able to reach the folder.
    await chmod(stateDir, 0o755);
    env = {
      ...process.env,
      NODE_OPTIONS: '',
      DATABASE_URL: '',
      HOSTPLANE_STATE_DIR: stateDir,
      HOSTPLANE_ENVIRONMENT: environment,
      HOSTPLANE_API_PORT: '0',
      HOSTPLANE_EDGE_PORT: '0',
    };
    child = spawn('npm', ['start'], { cwd: repositoryRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<never>((_, reject) =>
      child!.once('exit', (code) => reject(new Error(`npm start exited (${code}) before it was up; it printed:\n${output}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([
      exited,
      pollUntil(() => (output.includes('control plane is up') ? true : undefined), {
        timeoutMs: 90_000,
        intervalMs: 100,
        what: 'npm start to report it is up',
      }),
    ]);
    apiUrl = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
    edgePort = Number(/Front door\s+http:\/\/<tenant>\.localhost:(\d+)\//.exec(output)![1]);
  }, 120_000);

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) {
      process.kill(-child.pid, 'SIGINT');
      await pollUntil(() => (child!.exitCode !== null || child!.signalCode !== null ? true : undefined), {
        timeoutMs: 30_000,
        what: 'npm start to stop',
      }).catch(() => process.kill(-child!.pid!, 'SIGKILL'));
    }
    const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis
      .connect()
      .then(async () => {
        for (const user of (await redis.acl('USERS')) as string[]) if (user.startsWith(`hp-${environment}-`)) await redis.acl('DELUSER', user);
      })
      .catch(() => undefined)
      .finally(() => redis.disconnect());
    await rm(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('prints where everything is and a one-line example', () => {
    expect(output).toContain('embedded PostgreSQL');
    expect(output).toMatch(/npx hostplane tenants create acme --tier pooled && curl http:\/\/acme\.localhost:\d+\//);
  });

  it('creates a tenant through the API and serves its page through the front door', async () => {
    const created = await api(apiUrl, 'POST', '/tenants', { tenantId: 'shop', displayName: 'The Shop' });
    expect(created.status).toBe(202);
    await pollUntil(
      async () => ((await api(apiUrl, 'GET', `/operations/${String(created.body.operationId)}`)).body.status === 'SUCCEEDED' ? true : undefined),
      { timeoutMs: 60_000, what: 'the tenant to be provisioned' },
    );
    const page = await getThroughFrontDoor(edgePort, `shop.localhost:${edgePort}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('The Shop');
  });

  it('lists the tenant with the CLI', async () => {
    const { code, output: listed } = await run(process.execPath, ['bin/hostplane.js', 'tenants', 'list'], env);
    expect(code).toBe(0);
    expect(listed).toMatch(/shop\s+ACTIVE\s+pooled\s+http:\/\/shop\.localhost:\d+\//);
  });

  it('deploys an app definition with the CLI: the tenant serves its generated API through the front door', async () => {
    const before = JSON.parse((await getThroughFrontDoor(edgePort, `shop.localhost:${edgePort}`, '/version')).body) as { release: string };
    const { code, output: deployed } = await run(
      process.execPath,
      ['bin/hostplane.js', 'deploy', 'shop', 'lambdas/app-definition/examples/bookshop.json', '--allow-destructive'],
      env,
    );
    expect(deployed).toMatch(/✓ AwaitHealthy/);
    expect(code).toBe(0);
    const release = /now serves release ([0-9a-f]{12})/.exec(deployed)?.[1];
    expect(release).toBeDefined();

    const { body: shop } = await api(apiUrl, 'GET', '/tenants/shop');
    expect(String(shop.version)).toMatch(new RegExp(`^${release}`));
    const version = await waitForRelease(edgePort, `shop.localhost:${edgePort}`, shop.version);
    expect(version.app).toBe('Bookshop');
    expect(version.release).not.toBe(before.release);
    const created = await send(edgePort, {
      method: 'POST',
      path: '/api/book',
      headers: { host: `shop.localhost:${edgePort}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Dune' }),
    });
    expect(created.status).toBe(201);
  });

  it('gives the tenant a login the embedded database checks the password of', async () => {
    const secret = (await import('node:fs/promises')).readFile(
      join(stateDir, 'secrets', 'hostplane', environment, 'local', 'shop', 'database.json'),
      'utf8',
    );
    const { host, port, username, password, dbname } = JSON.parse(await secret) as Record<string, string>;
    const good = new pg.Client({ host, port: Number(port), user: username, password, database: dbname });
    await good.connect();
    await good.end();
    const bad = new pg.Client({ host, port: Number(port), user: username, password: `${password}x`, database: dbname });
    bad.on('error', () => undefined);
    await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('backs the tenant up, exports it as CSV, and deletes it only once its id is typed again', async () => {
    const cli = (args: string[], input?: string) => run(process.execPath, ['bin/hostplane.js', ...args], env, input);
    const backedUp = await cli(['tenants', 'backup', 'shop']);
    expect(backedUp.output).toMatch(/^backup bk-\S+ of shop: 1 row in 2 entities/m);
    expect(backedUp.code).toBe(0);

    const out = join(stateDir, 'export.tar.gz');
    const exported = await cli(['tenants', 'export', 'shop', '--out', out]);
    expect(exported.code).toBe(0);
    const archive = execFileSync('tar', ['-xzOf', out, '--wildcards', '*/book.csv'], { encoding: 'utf8' });
    expect(archive.split(/\r?\n/)[1]).toMatch(/^1,Dune,/);

    const refused = await cli(['tenants', 'delete', 'shop'], 'shpo\n');
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('not deleted: "shpo" is not shop');
    expect((await api(apiUrl, 'GET', '/tenants/shop')).body).toMatchObject({ status: 'ACTIVE' });

    const deleted = await cli(['tenants', 'delete', 'shop'], 'shop\n');
    expect(deleted.output).toContain('✓ RemoveTenantDatabase');
    expect(deleted.output).toContain('shop is DELETED');
    expect(deleted.output).toMatch(/✓ MarkTenantDeleted \(\d+ ms\)/);
    expect(deleted.code).toBe(0);
    const shown = await cli(['tenants', 'show', 'shop']);
    expect(shown.output).toMatch(/shop \(The Shop\)\s+DELETED/);
    // The manual one, the one the export took, and the final one.
    expect(shown.output).toMatch(/backup\s+bk-\S+ \(final, .*\), 3 in all/);
    const listed = await cli(['tenants', 'backups', 'shop']);
    expect(listed.output).toMatch(/final\s+Bookshop\s+1\s/);
    expect(listed.output).toMatch(/manual\s+Bookshop\s+1\s/);
  });

  it('refuses a bad tenant id with a one-line message and a non-zero exit', async () => {
    const { code, output: refused } = await run(process.execPath, ['bin/hostplane.js', 'tenants', 'create', 'Not_Valid'], env);
    expect(code).toBe(1);
    expect(refused.trim()).toBe('hostplane: tenantId: may contain only lowercase letters, digits and hyphens');
  });
});
