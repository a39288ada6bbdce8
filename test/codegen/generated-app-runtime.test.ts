import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { createServer, Socket, type Server } from 'node:net';
import pg from 'pg';
import { pollUntil } from '../support/poll.js';
import { uniqueEnvironment } from '../support/services.js';
import { bookshop, call, killAllApps, spawnApp, startApp, waitForServing, writeRelease, type AppProcess, type ReleaseDir } from './support/app-process.js';
import { createTenantDatabase, dropTenantDatabases, leftovers, migrateTenant, type TenantDatabase } from './support/tenant-database.js';

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return { server, port: address.port };
}

/**
 * The listening socket's descriptor in this process, for `spawn`'s stdio: the child gets a
 * duplicate as its fd 3 (or 4), as the reloader hands down the socket it holds. (Passing the
 * net.Server object itself makes Node wrap its handle in a Socket here, which then fails.)
 */
function descriptorOf(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('no file descriptor for the listening socket');
  return fd;
}

interface Exchange {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly reusedSocket: boolean;
}

function get(agent: Agent, url: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the generated app as a process: tenants, socket activation, draining', () => {
  const prefix = uniqueEnvironment('cg');
  let release: ReleaseDir;
  let tenantA: TenantDatabase;
  let tenantB: TenantDatabase;

  beforeAll(async () => {
    release = await writeRelease(bookshop());
    tenantA = await createTenantDatabase(`${prefix}_a`);
    tenantB = await createTenantDatabase(`${prefix}_b`);
    await migrateTenant(tenantA, bookshop());
    await migrateTenant(tenantB, bookshop());
  });

  afterAll(async () => {
    await killAllApps();
    await dropTenantDatabases(prefix);
    await release?.remove();
    expect(await leftovers(prefix)).toEqual([]);
  });

  it("keeps tenants apart: A's app, with A's credentials, sees only A's rows and cannot reach B's database", async () => {
    // A as DATABASE_URL, B in the tenant secret's shape (libpq variables).
    const { app: appA, url: urlA } = await startApp(release, { DATABASE_URL: tenantA.url });
    const { app: appB, url: urlB } = await startApp(release, { ...tenantB.pgEnv });
    expect(await call(urlA, 'POST', '/api/book', { title: 'Secret of A' })).toMatchObject({ status: 201 });
    expect(await call(urlB, 'POST', '/api/book', { title: 'Secret of B' })).toMatchObject({ status: 201 });

    const titles = async (url: string) => ((await call(url, 'GET', '/api/book')).body as { items: { title: string }[] }).items.map((item) => item.title);
    expect(await titles(urlA)).toEqual(['Secret of A']);
    expect(await titles(urlB)).toEqual(['Secret of B']);
    // Same ids in both databases: each app answers from its own.
    expect(await call(urlA, 'GET', '/api/book/1')).toMatchObject({ body: { title: 'Secret of A' } });
    expect(await call(urlB, 'GET', '/api/book/1')).toMatchObject({ body: { title: 'Secret of B' } });

    // A's credentials pointed at B's database: refused by PostgreSQL, so the app is unhealthy and reads nothing.
    const { app: astray, url: urlAstray } = await startApp(release, { ...tenantA.pgEnv, PGDATABASE: tenantB.database });
    expect(await call(urlAstray, 'GET', '/healthz')).toMatchObject({ status: 503, body: { status: 'unavailable' } });
    const refused = await call(urlAstray, 'GET', '/api/book');
    expect(refused).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(JSON.stringify(refused.body)).not.toContain('Secret of B');
    const direct = new pg.Client({ connectionString: tenantA.url.replace(`/${tenantA.database}`, `/${tenantB.database}`) });
    await expect(direct.connect()).rejects.toThrow(/permission denied for database/);
    await direct.end().catch(() => undefined);

    // Each drains: fetch's idle keep-alive connections are closed by the apps after their grace period.
    expect(await Promise.all([appA, appB, astray].map((app) => app.stop()))).toEqual(Array(3).fill({ code: 0, signal: null }));
  });

  it('serves on an inherited socket as fd 3 (LISTEN_FDS=1), with its health on fd 4, and drains idle connections on SIGTERM', async () => {
    const shared = await listening();
    const health = await listening();
    let app: AppProcess;
    try {
      app = spawnApp(
        release,
        { LISTEN_FDS: '1', HOSTPLANE_HEALTH_FD: '4', DATABASE_URL: tenantA.url, HOSTPLANE_RELEASE_ID: 'fd-mode' },
        [descriptorOf(shared.server), descriptorOf(health.server)],
      );
    } finally {
      // The child has its own copies now; this process stops listening (as the reloader never accepts).
      shared.server.close();
      health.server.close();
    }
    expect(await waitForServing(app)).toBe('fd');
    expect(app.output()).toContain('serving on fd 3');

    const sharedUrl = `http://127.0.0.1:${shared.port}`;
    expect(await call(sharedUrl, 'GET', '/version')).toMatchObject({ status: 200, body: { release: 'fd-mode', app: 'Bookshop' } });
    expect(await call(sharedUrl, 'POST', '/api/book', { title: 'Via fd 3' })).toMatchObject({ status: 201 });
    expect(await call(`http://127.0.0.1:${health.port}`, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });

    // An idle keep-alive connection, left open by its client: closed by the app after its grace period.
    const idle = new Socket();
    await new Promise<void>((resolve, reject) => idle.once('error', reject).connect(shared.port, '127.0.0.1', resolve));
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    idle.on('error', () => undefined);
    idle.resume(); // read to the end, or 'close' never comes
    idle.write('GET /version HTTP/1.1\r\nHost: app\r\n\r\n');
    await pollUntil(() => (idle.bytesRead > 0 ? true : undefined), { what: 'the answer on the idle connection' });

    app.child.kill('SIGTERM');
    await idleClosed;
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.output()).toMatch(/draining \(SIGTERM\)[\s\S]*drained/);
  });

  it('answers requests on kept-alive connections with Connection: close while draining, and accepts no new ones', async () => {
    const { app, url } = await startApp(release, { DATABASE_URL: tenantA.url });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await get(agent, `${url}/version`);
      expect(before).toMatchObject({ status: 200, reusedSocket: false });
      expect(before.headers.connection).toBe('keep-alive');

      app.child.kill('SIGTERM');
      await pollUntil(() => (app.output().includes('draining') ? true : undefined), { what: 'the app to start draining' });
      await expect(fetch(`${url}/version`)).rejects.toThrow();

      const during = await get(agent, `${url}/version`);
      expect(during).toMatchObject({ status: 200, reusedSocket: true });
      expect(during.headers.connection).toBe('close');
      expect(await app.exited).toEqual({ code: 0, signal: null });
    } finally {
      agent.destroy();
    }
  });

  it('refuses to start on a bad configuration (exit code 2, saying what is missing)', async () => {
    const noDatabase = spawnApp(release, { PORT: '0' });
    expect(await noDatabase.exited).toEqual({ code: 2, signal: null });
    expect(noDatabase.output()).toMatch(/DATABASE_URL: is not set, nor are PGHOST, PGDATABASE, PGUSER/);

    const notMine = spawnApp(release, { LISTEN_FDS: '1', LISTEN_PID: '1', DATABASE_URL: tenantA.url });
    expect(await notMine.exited).toEqual({ code: 2, signal: null });
    expect(notMine.output()).toMatch(/LISTEN_PID: is 1, not this process/);
  });
});
