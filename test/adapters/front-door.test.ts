import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEdge } from '../../local/adapters/local-edge.js';
import { MAX_REQUEST_BODY_BYTES, startFrontDoor, type FrontDoor } from '../../local/front-door.js';
import { HTTP_SOURCE } from '../../lambdas/codegen/templates/backend-http.js';
import { send } from '../support/http.js';
import { pollUntil } from '../support/poll.js';


interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('front door', () => {
  let stateDir: string;
  let upstream: Server;
  let upstreamPort: number;
  let upstreamConnections = 0;
  let lastSeen: Seen | undefined;
  let doorPort = 0;
  let edge: LocalEdge;
  let door: FrontDoor;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hp-front-door-'));
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        lastSeen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        res.writeHead(201, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
        res.end(`hello from upstream: ${req.method} ${req.url}`);
      });
    });
    upstream.keepAliveTimeout = 65_000;
    upstream.on('connection', () => upstreamConnections++);
    upstreamPort = await listen(upstream);

    edge = new LocalEdge({ stateDir, port: () => doorPort });
    door = await startFrontDoor({ edge });
    doorPort = door.port;

    await edge.registerRoute({ tenantId: 'acme', hostLabel: 'acme', endpoint: `127.0.0.1:${upstreamPort}`, assetsBucket: 'hp-dev-local-acme-assets' });
    await edge.ensureStaticAssets('hp-dev-local-acme-assets');
    const assets = join(stateDir, 'assets', 'hp-dev-local-acme-assets', 'assets');
    await mkdir(assets, { recursive: true });
    await writeFile(join(assets, 'app.css'), 'body { color: teal; }\n');
  });

  afterAll(async () => {
    await door.close();
    await closeServer(upstream);
    await rm(stateDir, { recursive: true, force: true });
  });

  it('edge: gives the tenant URL and keeps routes across restarts', async () => {
    const url = edge.urlFor('acme');
    const reloaded = new LocalEdge({ stateDir, port: () => doorPort });
    const saved = JSON.parse(await readFile(join(stateDir, 'edge', 'routes.json'), 'utf8')) as { routes: unknown[] };

    expect(url).toBe(`http://acme.localhost:${doorPort}/`);
    expect(reloaded.lookup('acme')).toEqual({ tenantId: 'acme', hostLabel: 'acme', endpoint: `127.0.0.1:${upstreamPort}`, assetsBucket: 'hp-dev-local-acme-assets' });
    expect(saved.routes).toHaveLength(1);
    expect(await edge.staticAssetsExist('hp-dev-local-acme-assets')).toBe(true);
  });

  it('edge: registers, replaces and removes routes and asset stores, saying whether they were there', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'hp-edge-'));
    try {
      const local = new LocalEdge({ stateDir: scratch, port: () => 8080 });
      const route = { tenantId: 'zeta', hostLabel: 'zeta', endpoint: '127.0.0.1:1234', assetsBucket: 'hp-dev-local-zeta-assets' };

      const registered = await local.registerRoute(route);
      await local.registerRoute({ ...route, endpoint: '127.0.0.1:4321' });
      await local.ensureStaticAssets(route.assetsBucket);

      expect(registered).toEqual({ url: 'http://zeta.localhost:8080/' });
      expect((await local.getRoute('zeta'))?.endpoint).toBe('127.0.0.1:4321');
      expect(await local.removeRoute('zeta')).toBe(true);
      expect(await local.removeRoute('zeta')).toBe(false);
      expect(new LocalEdge({ stateDir: scratch, port: () => 8080 }).lookup('zeta')).toBeUndefined();
      expect(await local.removeStaticAssets(route.assetsBucket)).toBe(true);
      expect(await local.removeStaticAssets(route.assetsBucket)).toBe(false);
      await expect(local.registerRoute({ ...route, hostLabel: '../evil' })).rejects.toThrow('hostLabel');
      await expect(local.ensureStaticAssets('../../etc')).rejects.toThrow('assetsBucket');
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('answers 413 itself for a body over the apps\' limit, declared or chunked, without passing it on (not 502)', async () => {
    lastSeen = undefined;
    const declared = await send(doorPort, {
      method: 'POST',
      path: '/api/book',
      headers: { host: 'acme.localhost', 'content-type': 'application/json', 'content-length': String(MAX_REQUEST_BODY_BYTES + 1) },
      body: 'x'.repeat(MAX_REQUEST_BODY_BYTES + 1),
    });
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ port: doorPort, method: 'POST', path: '/api/book', headers: { host: 'acme.localhost', 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', (error) => (req.writableEnded ? undefined : reject(error)));
      const piece = Buffer.alloc(64 * 1024, 'y');
      for (let sent = 0; sent <= MAX_REQUEST_BODY_BYTES; sent += piece.length) req.write(piece);
      req.end();
    });

    expect({ status: declared.status, body: JSON.parse(declared.body) as unknown }).toEqual({
      status: 413,
      body: { error: 'payload_too_large', message: `body: is larger than ${MAX_REQUEST_BODY_BYTES} bytes`, field: 'body' },
    });
    expect(chunked.status).toBe(413);
    // Nothing over the limit reached the tenant (set by the upstream's handler, which the type checker cannot see).
    expect((lastSeen as Seen | undefined)?.body.length ?? 0).toBeLessThanOrEqual(MAX_REQUEST_BODY_BYTES);
    // The limit is the generated app's own.
    expect(MAX_REQUEST_BODY_BYTES).toBe(1024 * 1024);
    expect(HTTP_SOURCE).toContain('export const MAX_BODY_BYTES = 1024 * 1024;');
  });

  it('forwards method, path, body and headers by Host, and streams the answer back', async () => {
    const reply = await send(doorPort, {
      method: 'POST',
      path: '/orders?page=2',
      headers: { host: `acme.localhost:${doorPort}`, 'content-type': 'text/plain' },
      body: 'one order',
    });

    expect(reply.status).toBe(201);
    expect(reply.headers['x-upstream']).toBe('yes');
    expect(reply.body).toBe('hello from upstream: POST /orders?page=2');
    expect(lastSeen).toMatchObject({ method: 'POST', url: '/orders?page=2', body: 'one order' });
    expect(lastSeen?.headers).toMatchObject({
      host: `acme.localhost:${doorPort}`,
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-host': `acme.localhost:${doorPort}`,
      'x-forwarded-proto': 'http',
      'x-tenant-id': 'acme',
    });
  });

  it('routes by X-Tenant-Id when the host names no tenant', async () => {
    const reply = await send(doorPort, { path: '/by-header', headers: { host: `127.0.0.1:${doorPort}`, 'x-tenant-id': 'acme' } });

    expect(reply.status).toBe(201);
    expect(lastSeen?.url).toBe('/by-header');
  });

  it('answers 404 naming the host for an unknown tenant', async () => {
    const reply = await send(doorPort, { headers: { host: `nobody.localhost:${doorPort}` } });

    expect(reply.status).toBe(404);
    expect(reply.headers['content-type']).toContain('text/html');
    expect(reply.body).toContain(`nobody.localhost:${doorPort}`);
    expect(reply.body).toContain('Unknown tenant');
  });

  it('answers 404 explaining how tenants are addressed when the host names none', async () => {
    const reply = await send(doorPort, { headers: { host: `localhost:${doorPort}` } });

    expect(reply.status).toBe(404);
    expect(reply.body).toContain(`http://&#60;tenant&#62;.localhost:${doorPort}/`);
    expect(reply.body).toContain('X-Tenant-Id');
    expect(reply.body).toContain(`http://acme.localhost:${doorPort}/`);
  });

  it('answers 502 when the tenant service is not answering', async () => {
    await edge.registerRoute({ tenantId: 'beta', hostLabel: 'beta', endpoint: `127.0.0.1:${await closedPort()}`, assetsBucket: 'hp-dev-local-beta-assets' });

    const reply = await send(doorPort, { headers: { host: `beta.localhost:${doorPort}` } });

    expect(reply.status).toBe(502);
    expect(reply.body).toContain('beta');
    expect(reply.body).toContain('not answering');
    await edge.removeRoute('beta');
  });

  it('serves /assets/ from the tenant asset folder, and nothing outside it', async () => {
    const host = { host: `acme.localhost:${doorPort}` };

    const css = await send(doorPort, { path: '/assets/app.css', headers: host });
    const missing = await send(doorPort, { path: '/assets/missing.css', headers: host });
    const encoded = await send(doorPort, { path: '/assets/..%2f..%2f..%2fedge%2froutes.json', headers: host });
    const raw = await send(doorPort, { path: '/assets/../../../edge/routes.json', headers: host });

    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.body).toBe('body { color: teal; }\n');
    expect(missing.status).toBe(404);
    expect(encoded.status).toBe(404);
    expect(raw.status).toBe(404);
    expect(encoded.body + raw.body).not.toContain('endpoint');
  });

  it('keeps client and upstream connections alive across requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await send(doorPort, { path: '/warm', headers: { host: `acme.localhost:${doorPort}` }, agent });
      const connectionsBefore = upstreamConnections;

      const replies = [];
      for (let i = 0; i < 5; i++) replies.push(await send(doorPort, { path: `/r${i}`, headers: { host: `acme.localhost:${doorPort}` }, agent }));

      expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
      expect(replies.every((r) => r.reusedSocket)).toBe(true);
      expect(upstreamConnections).toBe(connectionsBefore);
    } finally {
      agent.destroy();
    }
  });

  it('drops its idle connections to a tenant when the tenant route is removed', async () => {
    const second = createServer((_req, res) => res.end('second'));
    second.keepAliveTimeout = 65_000;
    const secondPort = await listen(second);
    try {
      await edge.registerRoute({ tenantId: 'gone', hostLabel: 'gone', endpoint: `127.0.0.1:${secondPort}`, assetsBucket: 'hp-dev-local-gone-assets' });
      expect((await send(doorPort, { headers: { host: `gone.localhost:${doorPort}` } })).status).toBe(200);
      const open = (): Promise<number> => new Promise((resolve) => second.getConnections((_error, count) => resolve(count)));
      expect(await open()).toBeGreaterThan(0);

      await edge.removeRoute('gone');

      await pollUntil(async () => ((await open()) === 0 ? true : undefined), { timeoutMs: 2_000, what: 'the idle upstream connection to close' });
    } finally {
      await closeServer(second);
    }
  });

  it('close() closes every connection and leaves nothing listening', async () => {
    const other = await startFrontDoor({ edge });
    const agent = new Agent({ keepAlive: true });
    try {
      const reply = await send(other.port, { headers: { host: `acme.localhost:${other.port}` }, agent });
      expect(reply.status).toBe(201);
      const upstreamOpen = (): Promise<number> => new Promise((resolve) => upstream.getConnections((_error, count) => resolve(count)));
      const openBefore = await upstreamOpen();

      await other.close();

      expect(await refusesConnections(other.port)).toBe(true);
      await pollUntil(async () => ((await upstreamOpen()) < openBefore ? true : undefined), { what: 'the upstream connection to close' });
    } finally {
      agent.destroy();
      await other.close();
    }
  });
});

describe('LocalEdge listing', () => {
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'hp-edge-list-'));
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('lists every route by host label, and the asset stores whose names start with a prefix', async () => {
    const edge = new LocalEdge({ stateDir: scratch, port: () => 8080 });
    expect(await edge.listRoutes()).toEqual([]);
    expect(await edge.listStaticAssets('hp-dev-')).toEqual([]);
    const zeta = { tenantId: 'zeta', hostLabel: 'zeta', endpoint: '127.0.0.1:1234', assetsBucket: 'hp-dev-local-zeta-assets' };
    const alpha = { tenantId: 'alpha', hostLabel: 'alpha', endpoint: '127.0.0.1:1235', assetsBucket: 'hp-dev-local-alpha-assets' };
    await edge.registerRoute(zeta);
    await edge.registerRoute(alpha);
    for (const bucket of [zeta.assetsBucket, alpha.assetsBucket, 'hp-prod-local-zeta-assets']) await edge.ensureStaticAssets(bucket);
    await writeFile(join(scratch, 'assets', 'hp-dev-stray-file'), 'not a store');

    expect(await edge.listRoutes()).toEqual([alpha, zeta]);
    expect(await new LocalEdge({ stateDir: scratch, port: () => 8080 }).listRoutes()).toEqual([alpha, zeta]);
    expect(await edge.listStaticAssets('hp-dev-')).toEqual([alpha.assetsBucket, zeta.assetsBucket]);
    expect(await edge.listStaticAssets('')).toEqual([alpha.assetsBucket, zeta.assetsBucket, 'hp-prod-local-zeta-assets']);
    await expect(edge.listStaticAssets('../')).rejects.toThrow('prefix');
  });
});
