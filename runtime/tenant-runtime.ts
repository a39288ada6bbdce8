/**
 * The process that serves one tenant. Locally the compute adapter runs one per tenant; in the
 * cloud it is the container's entrypoint. Today it serves a starter page and reports the
 * version found in the tenant's app folder; it is the seed of the reloader (see DESIGN.md,
 * "The runtime in the tenant's container"), which will hot-swap app releases behind it.
 *
 * Its own health (`/__runtime/healthz`) is told apart from the app's (`/healthz`).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { tenantIdSchema } from '../lambdas/domain/tenant-id.js';
import { isEntryPoint } from './is-entry-point.js';

/** Exit codes a supervisor can act on. */
export const RuntimeExitCode = {
  drained: 0,
  failed: 1,
  badConfig: 2,
  /** The address cannot be bound (taken, or not allowed): a supervisor may retry on another port. */
  addressUnavailable: 3,
} as const;

/** What the app folder holds when no release has been deployed yet. */
export const STARTER_VERSION = 'starter';

/** Longer than the front door's idle timeout, so the front door always closes idle connections first. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface DrainTimings {
  /** After this, idle connections are closed (clients have had time to close them themselves). */
  readonly idleGraceMs: number;
  /** After this, every connection is closed and the process exits even if not drained. */
  readonly deadlineMs: number;
}

export const DEFAULT_DRAIN_TIMINGS: DrainTimings = { idleGraceMs: 6_000, deadlineMs: 10_000 };

export interface RuntimeConfig {
  readonly tenantId: string;
  readonly displayName: string;
  /** The tenant's app folder; its `current/version` names the release being served. */
  readonly appDir: string;
  readonly host: string;
  readonly port: number;
}

const requiredString = z.string({ error: 'is not set' });

const envSchema = z.object({
  HOSTPLANE_TENANT_ID: requiredString.pipe(tenantIdSchema),
  HOSTPLANE_DISPLAY_NAME: requiredString.trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  HOSTPLANE_APP_DIR: requiredString.refine(isAbsolute, 'must be an absolute path'),
  PORT: requiredString.regex(/^\d{1,5}$/, 'must be a port number').transform(Number).pipe(z.number().max(65_535, 'must be at most 65535')),
  HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
});

export class RuntimeConfigError extends Error {
  override readonly name = 'RuntimeConfigError';
}

/** Reads and validates the runtime's configuration from environment variables. */
export function loadRuntimeConfig(env: NodeJS.ProcessEnv): RuntimeConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new RuntimeConfigError(`bad configuration:\n${problems.join('\n')}`);
  }
  const { HOSTPLANE_TENANT_ID, HOSTPLANE_DISPLAY_NAME, HOSTPLANE_APP_DIR, PORT, HOST } = parsed.data;
  return { tenantId: HOSTPLANE_TENANT_ID, displayName: HOSTPLANE_DISPLAY_NAME, appDir: HOSTPLANE_APP_DIR, host: HOST, port: PORT };
}

/** The version of the release in `<appDir>/current`, or {@link STARTER_VERSION} when there is none. */
export async function readAppVersion(appDir: string): Promise<string> {
  try {
    const version = (await readFile(join(appDir, 'current', 'version'), 'utf8')).trim();
    return version === '' ? STARTER_VERSION : version;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return STARTER_VERSION;
    throw error;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function starterPage(config: RuntimeConfig, version: string): string {
  const name = escapeHtml(config.displayName);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${name}</title></head>
<body>
<h1>${name}</h1>
<p>This is the starter page of tenant <code>${escapeHtml(config.tenantId)}</code>, served by Hostplane.</p>
<p>Version: <code>${escapeHtml(version)}</code></p>
</body>
</html>
`;
}

/** A tenant server and the way to stop it without dropping a request. */
export interface TenantServer {
  readonly server: Server;
  /** Stops accepting and drains; resolves true when every connection ended, false at the deadline. */
  drain(timings?: DrainTimings): Promise<boolean>;
}

export function createTenantServer(config: RuntimeConfig): TenantServer {
  let draining = false;

  const send = (res: ServerResponse, status: number, contentType: string, body: string): void => {
    const headers: Record<string, string | number> = {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    };
    // Once draining, each response tells the client to close its connection (see DESIGN.md).
    if (draining) headers.connection = 'close';
    res.writeHead(status, headers).end(body);
  };
  const sendJson = (res: ServerResponse, status: number, body: unknown): void =>
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

  const routes: Record<string, (res: ServerResponse) => Promise<void>> = {
    '/': async (res) => send(res, 200, 'text/html; charset=utf-8', starterPage(config, await readAppVersion(config.appDir))),
    '/healthz': async (res) => sendJson(res, 200, { tenantId: config.tenantId, version: await readAppVersion(config.appDir) }),
    '/version': async (res) => sendJson(res, 200, { tenantId: config.tenantId, version: await readAppVersion(config.appDir) }),
    '/__runtime/healthz': async (res) =>
      sendJson(res, 200, { status: 'ok', pid: process.pid, uptimeSeconds: Math.round(process.uptime() * 1000) / 1000 }),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) return sendJson(res, 404, { error: 'not found', path });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed' });
    }
    await route(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      process.stderr.write(`request ${req.method} ${req.url} failed: ${String(error)}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;

  const drain = (timings: DrainTimings = DEFAULT_DRAIN_TIMINGS): Promise<boolean> => {
    draining = true;
    return new Promise((resolve) => {
      const idle = setTimeout(() => server.closeIdleConnections(), timings.idleGraceMs);
      const deadline = setTimeout(() => {
        server.closeAllConnections();
        resolve(false);
      }, timings.deadlineMs);
      // http.Server#close would also close idle keep-alive connections at once, and a client reusing
      // one at that moment gets ECONNRESET. net.Server#close only stops accepting; its callback runs
      // once every connection has ended.
      NetServer.prototype.close.call(server, () => {
        clearTimeout(idle);
        clearTimeout(deadline);
        resolve(true);
      });
    });
  };

  return { server, drain };
}

function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Runs the runtime as a process: configuration from the environment, exit codes from {@link RuntimeExitCode}. */
export function runTenantRuntime(env: NodeJS.ProcessEnv = process.env): void {
  let config: RuntimeConfig;
  try {
    config = loadRuntimeConfig(env);
  } catch (error) {
    process.stderr.write(`tenant-runtime: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(RuntimeExitCode.badConfig);
  }

  const { server, drain } = createTenantServer(config);
  server.on('error', (error: NodeJS.ErrnoException) => {
    process.stderr.write(`tenant-runtime: cannot listen on ${formatUrl(config.host, config.port)}: ${error.message}\n`);
    const unavailable = error.code === 'EADDRINUSE' || error.code === 'EACCES';
    process.exit(unavailable ? RuntimeExitCode.addressUnavailable : RuntimeExitCode.failed);
  });

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`draining (${why})\n`);
    void drain().then((drained) => {
      process.stdout.write(drained ? 'drained, exiting\n' : 'drain deadline reached, exiting\n');
      process.exit(drained ? RuntimeExitCode.drained : RuntimeExitCode.failed);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Started by a local supervisor over an IPC channel: never outlive it, even if it is killed.
  if (process.channel) {
    process.channel.unref();
    process.on('disconnect', () => stop('supervisor gone'));
  }

  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    process.stdout.write(`listening on ${formatUrl(config.host, port)}\n`);
  });
}

if (isEntryPoint(import.meta.url)) runTenantRuntime();
