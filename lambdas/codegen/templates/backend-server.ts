/** `src/server.ts` of a generated app: the entry point (routes, listening, draining). */
export const SERVER_SOURCE = String.raw`/**
 * The app's process. It listens on the socket its supervisor hands down as fd 3
 * (LISTEN_FDS=1, the systemd socket-activation convention), or on PORT; answers its health
 * check on a private fd when given one (HOSTPLANE_HEALTH_FD); and on SIGTERM drains without
 * resetting a connection: it stops accepting, answers each further request on a kept-alive
 * connection with Connection: close, closes the connections still idle after a grace period,
 * and exits once every connection is gone (at the latest after 10 s).
 *
 * Exit codes: 0 drained, 1 failed (or drain deadline reached), 2 bad configuration, 3 address unavailable.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import type pg from 'pg';
import { createCache, type RowCache } from './cache.js';
import { ConfigError, loadConfig, type AppConfig } from './config.js';
import { createPool } from './database.js';
import { handleEntity, type ApiContext } from './entity-api.js';
import { HttpError, lifecycle, methodNotAllowed, notFound, send, sendError, sendJson } from './http.js';
import { MODEL } from './model.js';
import type { EntityModel } from './types.js';

const EXIT = { drained: 0, failed: 1, badConfig: 2, addressUnavailable: 3 } as const;
/** Longer than the front door's idle timeout, so the front door closes idle connections first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const IDLE_GRACE_MS = 5_000;
const DRAIN_DEADLINE_MS = 10_000;
const DATABASE_RETRY_MS = 500;

const ENTITIES = new Map<string, EntityModel>(MODEL.entities.map((entity) => [entity.name, entity]));

function log(line: string): void {
  process.stdout.write(line + '\n');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** The front end: public/ beside this file, read once. */
function loadPublicFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const folder = new URL('./public/', import.meta.url);
  let names: string[];
  try {
    names = readdirSync(folder).sort();
  } catch {
    return files;
  }
  for (const name of names) {
    const type = CONTENT_TYPES[/\.[a-z]+$/.exec(name)?.[0] ?? ''];
    if (!type || !/^[a-z0-9][a-z0-9._-]*$/.test(name)) continue;
    const body = readFileSync(new URL(name, folder));
    files.set('/' + name, { body, type, etag: '"' + createHash('sha256').update(body).digest('base64url').slice(0, 22) + '"' });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}

interface App {
  readonly config: AppConfig;
  readonly context: ApiContext;
  readonly files: Map<string, StaticFile>;
}

async function checkHealth(app: App, res: ServerResponse): Promise<void> {
  try {
    await app.context.pool.query('select 1');
    sendJson(res, 200, { status: 'ok', release: app.config.release, app: MODEL.app });
  } catch (error) {
    sendJson(res, 503, { status: 'unavailable', error: 'database', message: 'the database does not answer: ' + errorText(error) });
  }
}

function splitUrl(raw: string): { path: string; params: URLSearchParams } {
  const at = raw.indexOf('?');
  return at < 0 ? { path: raw, params: new URLSearchParams() } : { path: raw.slice(0, at), params: new URLSearchParams(raw.slice(at + 1)) };
}

function isRead(req: IncomingMessage): boolean {
  return req.method === 'GET' || req.method === 'HEAD';
}

async function route(app: App, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, params } = splitUrl(req.url ?? '/');

  if (path === '/healthz' || path === app.config.healthPath) {
    if (!isRead(req)) throw methodNotAllowed(['GET', 'HEAD']);
    return checkHealth(app, res);
  }
  if (path === '/version') {
    if (!isRead(req)) throw methodNotAllowed(['GET', 'HEAD']);
    return sendJson(res, 200, { release: app.config.release, app: MODEL.app });
  }
  if (path === '/api' || path === '/api/') {
    if (!isRead(req)) throw methodNotAllowed(['GET', 'HEAD']);
    return sendJson(res, 200, { app: MODEL.app, entities: [...ENTITIES.keys()] });
  }
  if (path.startsWith('/api/')) {
    const segments = path.slice('/api/'.length).split('/');
    const entity = ENTITIES.get(segments[0] ?? '');
    if (!entity || segments.length > 2) throw notFound('no such resource: ' + path);
    const id = segments[1] === undefined || segments[1] === '' ? undefined : segments[1];
    return handleEntity(app.context, entity, req, res, id, params);
  }

  const file = app.files.get(path);
  if (!file) throw notFound('no such resource: ' + path);
  if (!isRead(req)) throw methodNotAllowed(['GET', 'HEAD']);
  const headers = { ...(file.type.startsWith('text/html') ? PAGE_HEADERS : { 'cache-control': 'no-cache' }), etag: file.etag };
  if (req.headers['if-none-match'] === file.etag) return send(res, 304, headers);
  send(res, 200, { ...headers, 'content-type': file.type }, file.body);
}

function answer(app: App): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(app, req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) return sendError(res, error);
      process.stderr.write(req.method + ' ' + req.url + ' failed: ' + (error instanceof Error ? error.stack ?? error.message : String(error)) + '\n');
      sendError(res, new HttpError(500, 'internal', 'internal error'));
    });
  };
}

async function waitForDatabase(pool: pg.Pool): Promise<void> {
  let told = false;
  while (!lifecycle.draining) {
    try {
      await pool.query('select 1');
      if (told) log('the database answers');
      return;
    } catch (error) {
      if (!told) log('waiting for the database: ' + errorText(error));
      told = true;
      await new Promise((resolve) => setTimeout(resolve, DATABASE_RETRY_MS));
    }
  }
}

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(process.env, process.pid);
  } catch (error) {
    process.stderr.write((error instanceof ConfigError ? error.message : String(error)) + '\n');
    process.exit(EXIT.badConfig);
  }

  const pool = createPool(config);
  const cache: RowCache | undefined = config.cache ? await createCache(config.cache, MODEL.tag) : undefined;
  log(MODEL.app + ' (release ' + (config.release ?? 'unknown') + '): cache ' + (config.cache ? 'on, keys under ' + config.cache.prefix : 'off'));
  const app: App = { config, context: { pool, cache }, files: loadPublicFiles() };

  const server = createServer(answer(app));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  let serving = false;

  // The supervisor checks this one, never the shared socket (which may reach the old process).
  const healthServer = config.healthFd === undefined ? undefined : createServer((req, res) => {
    if (!serving) return sendJson(res, 503, { status: 'starting' });
    const { path } = splitUrl(req.url ?? '/');
    if (path !== config.healthPath && path !== '/healthz') return sendError(res, notFound('no such resource: ' + path));
    void checkHealth(app, res);
  });

  let finishing = false;
  const finish = (code: number): void => {
    if (finishing) return;
    finishing = true;
    setTimeout(() => process.exit(code), 2_000).unref();
    void Promise.allSettled([pool.end(), cache?.close()]).then(() => process.exit(code));
  };

  const drain = (why: string): void => {
    if (lifecycle.draining) return;
    lifecycle.draining = true;
    log('draining (' + why + ')');
    if (healthServer) {
      NetServer.prototype.close.call(healthServer);
      healthServer.closeAllConnections();
    }
    if (!server.listening) return finish(EXIT.drained);
    const idle = setTimeout(() => server.closeIdleConnections(), IDLE_GRACE_MS);
    const deadline = setTimeout(() => {
      log('drain deadline reached');
      server.closeAllConnections();
      finish(EXIT.failed);
    }, DRAIN_DEADLINE_MS);
    // http.Server#close would also close idle keep-alive connections at once, and a client
    // reusing one at that moment gets ECONNRESET; net.Server#close only stops accepting.
    NetServer.prototype.close.call(server, () => {
      clearTimeout(idle);
      clearTimeout(deadline);
      log('drained');
      finish(EXIT.drained);
    });
  };
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
  if (process.channel) {
    // Started over IPC by a supervisor: never outlive it.
    process.channel.unref();
    process.on('disconnect', () => drain('supervisor gone'));
  }

  const failed = (what: string) => (error: NodeJS.ErrnoException) => {
    process.stderr.write('cannot listen on ' + what + ': ' + error.message + '\n');
    process.exit(error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL' ? EXIT.addressUnavailable : EXIT.failed);
  };
  const ready = (where: string) => () => {
    serving = true;
    log('serving on ' + where);
    process.send?.({ type: 'ready' });
  };

  if (healthServer && config.healthFd !== undefined) {
    healthServer.on('error', failed('fd ' + config.healthFd));
    healthServer.listen({ fd: config.healthFd });
  }
  const listen = config.listen;
  if (listen.kind === 'fd') {
    server.on('error', failed('fd ' + listen.fd));
    // The socket is shared with the release being replaced: take a share of it only once this one can serve.
    await waitForDatabase(pool);
    if (lifecycle.draining) return;
    server.listen({ fd: listen.fd }, ready('fd ' + listen.fd));
  } else {
    server.on('error', failed(listen.host + ':' + listen.port));
    server.listen(listen.port, listen.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : listen.port;
      ready('http://' + (listen.host.includes(':') ? '[' + listen.host + ']' : listen.host) + ':' + port)();
    });
  }
}

main().catch((error: unknown) => {
  process.stderr.write('failed to start: ' + (error instanceof Error ? error.stack ?? error.message : String(error)) + '\n');
  process.exit(EXIT.failed);
});
`;
