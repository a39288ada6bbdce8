/**
 * The edge proxy's production Caddyfile, run for real by Debian's caddy (2.6.2) on loopback: a dns2
 * server plays the Cloud Map namespace, two small HTTP servers play two tenants' services.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { send, type Reply } from '../support/http.js';
import { pollUntil } from '../support/poll.js';
import { startSrvDnsServer, type SrvDnsServer } from '../support/srv-dns-server.js';

const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const CADDYFILE = join(repositoryRoot, 'runtime', 'edge', 'Caddyfile');
const APP_SERVER_TEMPLATE = join(repositoryRoot, 'lambdas', 'codegen', 'templates', 'backend-server.ts');
const NAMESPACE = 'cell-1.hostplane.test';
const SRV = 33;
const A = 1;
const NO_TENANT_PAGE = 'no such tenant or tenant not running';

interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface Upstream {
  readonly name: string;
  readonly server: Server;
  readonly port: number;
  readonly seen: SeenRequest[];
}

/** One tenant's service: records what reaches it and says who it is. */
async function startUpstream(name: string): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ upstream: name }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, server, port: (server.address() as AddressInfo).port, seen };
}

async function stopServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/** A loopback port nothing listens on (bound, then let go). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await stopServer(server);
  return port;
}

/**
 * What Cloud Map publishes for one task of a tenant's service: an SRV record `<tenant>.<namespace>`
 * whose target `<instance>.<tenant>.<namespace>` has an A record (here loopback).
 */
function registerTask(dns: SrvDnsServer, tenant: string, port: number): string {
  const target = `task-1.${tenant}.${NAMESPACE}`;
  dns.setSrv(`${tenant}.${NAMESPACE}`, [{ target, port }]);
  dns.setA(target, ['127.0.0.1']);
  return target;
}

/** Fails with the fix when caddy is missing, instead of skipping. */
function requireCaddy(): void {
  const probe = spawnSync('caddy', ['version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`caddy is not installed or does not run (${String(probe.error ?? probe.stderr)}): apt-get install caddy`);
  }
}

/** A request with the same header given twice, which `send` cannot write. */
function sendWithRepeatedHeader(port: number, name: string, values: string[], headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { ...headers, [name]: values } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('edge Caddyfile (caddy run, dynamic SRV upstreams)', () => {
  const secret = randomBytes(32).toString('hex');
  let stateDir: string | undefined;
  let dns: SrvDnsServer | undefined;
  const upstreams: Upstream[] = [];
  let acme: Upstream;
  let bravo: Upstream;
  let caddy: ChildProcess | undefined;
  let caddyExited: Promise<number | null> = Promise.resolve(null);
  let stdout = '';
  let stderr = '';
  let edgePort = 0;

  const verified = (tenant: string, extra: Record<string, string> = {}): Record<string, string> => ({
    'X-Origin-Verify': secret,
    'X-Tenant-Id': tenant,
    ...extra,
  });
  const edge = (options: Parameters<typeof send>[1]): Promise<Reply> => send(edgePort, options);
  const forwardedCount = (): number => upstreams.reduce((sum, upstream) => sum + upstream.seen.length, 0);

  beforeAll(async () => {
    requireCaddy();
    stateDir = await mkdtemp(join(tmpdir(), 'hostplane-edge-'));
    acme = await startUpstream('acme');
    upstreams.push(acme);
    bravo = await startUpstream('bravo-2');
    upstreams.push(bravo);
    dns = await startSrvDnsServer();
    registerTask(dns, 'acme', acme.port);
    registerTask(dns, 'bravo-2', bravo.port);
    registerTask(dns, 'sleepy', await unusedPort());
    edgePort = await unusedPort();

    const child = spawn('caddy', ['run', '--adapter', 'caddyfile', '--config', CADDYFILE], {
      cwd: stateDir,
      env: {
        PATH: process.env.PATH,
        HOME: stateDir,
        XDG_CONFIG_HOME: join(stateDir, 'config'),
        XDG_DATA_HOME: join(stateDir, 'data'),
        EDGE_BIND: '127.0.0.1',
        EDGE_PORT: String(edgePort),
        ORIGIN_SECRET: secret,
        SERVICE_NAMESPACE: NAMESPACE,
        DNS_RESOLVER: dns.address,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    caddy = child;
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    caddyExited = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });

    const exitedEarly = caddyExited.then((code) => {
      throw new Error(`caddy exited (${String(code)}) before it was healthy:\n${stderr}\n${stdout}`);
    });
    await Promise.race([
      pollUntil(async () => ((await edge({ path: '/__edge/healthz' })).status === 200 ? true : undefined), {
        what: `caddy to answer /__edge/healthz on 127.0.0.1:${edgePort}`,
      }),
      exitedEarly,
    ]);
    exitedEarly.catch(() => undefined);
  });

  afterAll(async () => {
    if (caddy && caddy.exitCode === null && caddy.signalCode === null) {
      caddy.kill('SIGTERM');
      const killer = setTimeout(() => caddy?.kill('SIGKILL'), 5_000);
      await caddyExited;
      clearTimeout(killer);
    }
    await Promise.all(upstreams.map((upstream) => stopServer(upstream.server)));
    await dns?.close();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    for (const upstream of upstreams) upstream.seen.length = 0;
  });

  it('answers its health check without the secret, and forwards nothing', async () => {
    const reply = await edge({ path: '/__edge/healthz' });

    expect(reply.status).toBe(200);
    expect(reply.body).toBe('ok');
    expect(forwardedCount()).toBe(0);
  });

  it('forwards each tenant to its own service found by SRV, with the tenant header and without the secret', async () => {
    const toAcme = await edge({ path: '/orders?page=2', headers: verified('acme', { Host: 'shop.acme.example', 'X-Forwarded-For': '203.0.113.7, 198.51.100.9' }) });
    const toBravo = await edge({ path: '/api/notes', method: 'POST', headers: verified('bravo-2', { 'content-type': 'text/plain' }), body: 'hello' });

    expect(toAcme.status).toBe(200);
    expect(JSON.parse(toAcme.body)).toEqual({ upstream: 'acme' });
    expect(toBravo.status).toBe(200);
    expect(JSON.parse(toBravo.body)).toEqual({ upstream: 'bravo-2' });
    expect(acme.seen).toHaveLength(1);
    expect(acme.seen[0]).toMatchObject({ method: 'GET', url: '/orders?page=2', headers: { 'x-tenant-id': 'acme', host: 'shop.acme.example' } });
    expect(acme.seen[0]?.headers).not.toHaveProperty('x-origin-verify');
    expect(acme.seen[0]?.headers['x-forwarded-for']).toBe('203.0.113.7, 198.51.100.9, 127.0.0.1');
    expect(bravo.seen).toHaveLength(1);
    expect(bravo.seen[0]).toMatchObject({ method: 'POST', url: '/api/notes', body: 'hello', headers: { 'x-tenant-id': 'bravo-2' } });
    expect(bravo.seen[0]?.headers).not.toHaveProperty('x-origin-verify');
    expect(dns?.questions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: `acme.${NAMESPACE}`, type: SRV }),
        expect.objectContaining({ name: `task-1.acme.${NAMESPACE}`, type: A }),
        expect.objectContaining({ name: `bravo-2.${NAMESPACE}`, type: SRV }),
        expect.objectContaining({ name: `task-1.bravo-2.${NAMESPACE}`, type: A }),
      ]),
    );
  });

  it('refuses with 403 a request without the secret or with any other value, and forwards nothing', async () => {
    const questionsBefore = dns?.questions.length;
    const attempts: Array<Record<string, string>> = [
      { 'X-Tenant-Id': 'acme' },
      { 'X-Tenant-Id': 'acme', 'X-Origin-Verify': randomBytes(32).toString('hex') },
      { 'X-Tenant-Id': 'acme', 'X-Origin-Verify': secret.slice(0, -1) },
      { 'X-Tenant-Id': 'acme', 'X-Origin-Verify': `${secret}0` },
      { 'X-Tenant-Id': 'acme', 'X-Origin-Verify': secret.toUpperCase() },
      { 'X-Tenant-Id': 'acme', 'X-Origin-Verify': '' },
    ];

    const replies = await Promise.all(attempts.map((headers) => edge({ path: '/orders', headers })));

    expect(replies.map((reply) => reply.status)).toEqual(attempts.map(() => 403));
    expect(replies[0]?.body).toMatch(/^forbidden/);
    expect(forwardedCount()).toBe(0);
    expect(dns?.questions.length).toBe(questionsBefore);
  });

  it('rejects with 400 a tenant header that is not a tenant id, before any DNS lookup', async () => {
    const questionsBefore = dns?.questions.length;
    const notTenantIds = ['../x', 'A', '', 'ACME', 'ab', 'a'.repeat(41), '9lives', '-acme', 'acme-', 'acme--x', 'acme.evil', 'acme_x', 'acme%2e'];

    const replies = await Promise.all(notTenantIds.map((tenant) => edge({ headers: verified(tenant) })));
    const missing = await edge({ headers: { 'X-Origin-Verify': secret } });
    const repeated = await sendWithRepeatedHeader(edgePort, 'X-Tenant-Id', ['acme', 'x.evil'], { 'X-Origin-Verify': secret });

    expect(replies.map((reply) => reply.status)).toEqual(notTenantIds.map(() => 400));
    expect(replies[0]?.body).toMatch(/X-Tenant-Id is not a tenant id/);
    expect(missing.status).toBe(400);
    expect(repeated).toBe(400);
    expect(forwardedCount()).toBe(0);
    expect(dns?.questions.length).toBe(questionsBefore);
  });

  it('accepts the longest tenant id the rule allows', async () => {
    const longest = `a${'-b'.repeat(19)}9`;
    if (dns) registerTask(dns, longest, acme.port);

    const reply = await edge({ headers: verified(longest) });

    expect(longest).toHaveLength(40);
    expect(reply.status).toBe(200);
    expect(acme.seen[0]?.headers['x-tenant-id']).toBe(longest);
  });

  it('answers 502 with a clear page for a tenant with no SRV record (NXDOMAIN, or a name without one)', async () => {
    dns?.setSrv(`hollow.${NAMESPACE}`, []);

    const unknown = await edge({ path: '/', headers: verified('ghost') });
    const hollow = await edge({ path: '/', headers: verified('hollow') });

    for (const reply of [unknown, hollow]) {
      expect(reply.status).toBe(502);
      expect(reply.body).toBe(NO_TENANT_PAGE);
      expect(reply.headers['content-type']).toMatch(/^text\/plain/);
    }
    expect(dns?.questions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: `ghost.${NAMESPACE}`, type: SRV }),
        expect.objectContaining({ name: `hollow.${NAMESPACE}`, type: SRV }),
      ]),
    );
    expect(forwardedCount()).toBe(0);
  });

  it('answers the same 502 page when the tenant has a record but nothing listens there', async () => {
    const reply = await edge({ path: '/', headers: verified('sleepy') });

    expect(reply.status).toBe(502);
    expect(reply.body).toBe(NO_TENANT_PAGE);
  });

  it('logs JSON lines to stdout, access log included, and never the secret', async () => {
    await edge({ path: '/logged', headers: verified('acme') });

    const accessLine = await pollUntil(
      () =>
        stdout
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as { logger?: string; request?: { uri?: string; headers?: Record<string, string[]> } })
          .find((entry) => entry.logger?.startsWith('http.log.access') && entry.request?.uri === '/logged'),
      { what: 'the access log line for /logged' },
    );

    expect(accessLine.request?.headers?.['X-Tenant-Id']).toEqual(['acme']);
    expect(accessLine.request?.headers).not.toHaveProperty('X-Origin-Verify');
    expect(stdout).not.toContain(secret);
    expect(stderr).not.toContain(secret);
  });
});

/** The parts of `caddy adapt`'s JSON these checks read. */
interface AdaptedConfig {
  readonly admin?: { readonly disabled?: boolean };
  readonly apps: {
    readonly http: {
      readonly servers: Record<string, { readonly listen: string[]; readonly routes: unknown[]; readonly idle_timeout?: number }>;
    };
  };
}

interface ReverseProxyJson {
  readonly handler: 'reverse_proxy';
  readonly load_balancing?: { readonly try_duration?: number };
  readonly transport?: { readonly keep_alive?: { readonly idle_timeout?: number } };
}

const NANOSECONDS_PER_MS = 1_000_000;

function adapt(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('caddy', ['adapt', '--adapter', 'caddyfile', '--config', CADDYFILE], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function findReverseProxy(node: unknown): ReverseProxyJson | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = findReverseProxy(item);
      if (found) return found;
    }
    return undefined;
  }
  if (node && typeof node === 'object') {
    if ((node as { handler?: unknown }).handler === 'reverse_proxy') return node as ReverseProxyJson;
    return findReverseProxy(Object.values(node));
  }
  return undefined;
}

/** The app's timing constants, read from the template the deploy step generates servers from. */
async function appTimeoutMs(name: 'KEEP_ALIVE_TIMEOUT_MS' | 'IDLE_GRACE_MS'): Promise<number> {
  const source = await readFile(APP_SERVER_TEMPLATE, 'utf8');
  const match = new RegExp(`const ${name} = ([\\d_]+);`).exec(source);
  if (!match?.[1]) throw new Error(`${name} not found in ${APP_SERVER_TEMPLATE}`);
  return Number(match[1].replaceAll('_', ''));
}

describe('edge Caddyfile (caddy adapt, caddy fmt)', () => {
  const complete = { ORIGIN_SECRET: 'a'.repeat(64), SERVICE_NAMESPACE: NAMESPACE, DNS_RESOLVER: '10.0.0.2:53' };

  beforeAll(() => {
    requireCaddy();
  });

  it('is formatted as caddy fmt writes it', async () => {
    const formatted = spawnSync('caddy', ['fmt', CADDYFILE], { encoding: 'utf8' });

    expect(formatted.status).toBe(0);
    expect(formatted.stdout).toBe(await readFile(CADDYFILE, 'utf8'));
  });

  it.each(['ORIGIN_SECRET', 'SERVICE_NAMESPACE', 'DNS_RESOLVER'] as const)('refuses to start without %s', (missing) => {
    const env: Record<string, string> = { ...complete };
    delete env[missing];

    const result = adapt(env);

    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Error/);
  });

  it('has no admin endpoint and listens on port 8080 of every IPv4 interface by default', () => {
    const result = adapt(complete);
    const config = JSON.parse(result.stdout) as AdaptedConfig;

    expect(result.status).toBe(0);
    expect(config.admin?.disabled).toBe(true);
    expect(Object.values(config.apps.http.servers).map((server) => server.listen)).toEqual([['0.0.0.0:8080']]);
  });

  it('closes idle upstream connections before the app does, and gives up on a missing tenant quickly', async () => {
    const config = JSON.parse(adapt(complete).stdout) as AdaptedConfig;
    const proxy = findReverseProxy(config.apps.http.servers);
    const upstreamIdleMs = (proxy?.transport?.keep_alive?.idle_timeout ?? Number.POSITIVE_INFINITY) / NANOSECONDS_PER_MS;

    expect(upstreamIdleMs).toBeLessThan(await appTimeoutMs('KEEP_ALIVE_TIMEOUT_MS'));
    expect(upstreamIdleMs).toBeLessThan(await appTimeoutMs('IDLE_GRACE_MS'));
    expect((proxy?.load_balancing?.try_duration ?? Number.POSITIVE_INFINITY) / NANOSECONDS_PER_MS).toBeLessThanOrEqual(2_000);
  });
});
