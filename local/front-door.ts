/**
 * The local front door: what CloudFront, the ALB and Caddy do together in the cloud, in one
 * small reverse proxy. A request names its tenant by host (`<label>.localhost:<port>`) or, when
 * the host names none, by an `X-Tenant-Id` header (as CloudFront injects one in the cloud).
 * As CloudFront serves a tenant's bucket, a GET or HEAD outside `/api/` is answered from the
 * tenant's static-asset folder (`/` is `index.html`) when it holds that file; `/assets/…` only ever
 * from there. The rest is forwarded to the tenant's compute endpoint over kept-alive connections
 * (which is where `/healthz` and `/version` go: CloudFront would answer those from the bucket).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { resolve, sep } from 'node:path';
import { pipeline, Transform } from 'node:stream';
import { ROOT_OBJECT, staticAssetCacheControl, staticAssetContentType } from '../lambdas/domain/static-assets.js';
import type { TenantRoute } from '../lambdas/ports/edge.js';
import type { LocalEdge } from './adapters/local-edge.js';

export interface FrontDoorOptions {
  readonly edge: LocalEdge;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
}

export interface FrontDoor {
  readonly port: number;
  readonly url: string;
  /** Stops listening, closes every connection (client and upstream) and resolves. */
  close(): Promise<void>;
}

/** Shorter than the tenant runtime's keep-alive timeout (65 s), so idle connections are closed from this side first. */
const CLIENT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
const UPSTREAM_IDLE_TIMEOUT_MS = 4_000;

/** Headers that describe one connection, not the message: never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/**
 * What the generated app sends with its pages (lambdas/codegen/templates/backend-server.ts); in the
 * cloud the viewer-response CloudFront function adds the security headers instead.
 */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
} as const;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The largest request body a tenant's app accepts (its generated `MAX_BODY_BYTES`). The front door
 * answers 413 for a larger one itself: the app would refuse it mid-upload and close the connection,
 * which the client saw as a 502 "tenant not answering" and retried.
 */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

function sendTooLarge(res: ServerResponse): void {
  const body = JSON.stringify({ error: 'payload_too_large', message: `body: is larger than ${MAX_REQUEST_BODY_BYTES} bytes`, field: 'body' });
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, paragraphs: readonly string[]): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title></head>
<body>
<h1>${title}</h1>
${paragraphs.map((p) => `<p>${p}</p>`).join('\n')}
</body>
</html>
`;
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
  });
  res.end(html);
}

/** The host without its port, lower-cased, or undefined for an IP literal. */
function hostName(host: string): string | undefined {
  if (host.startsWith('[')) return undefined;
  const name = host.replace(/:\d*$/, '').replace(/\.$/, '').toLowerCase();
  return /^[\d.]+$/.test(name) ? undefined : name;
}

/** The tenant label a host names under `baseDomain` (`acme` in `acme.localhost:8080`), if any. */
function labelOf(host: string | undefined, baseDomain: string): string | undefined {
  const name = host === undefined ? undefined : hostName(host);
  if (name === undefined || !name.endsWith(`.${baseDomain}`)) return undefined;
  return name.slice(0, -(baseDomain.length + 1));
}

function forwardedHeaders(req: IncomingMessage, route: TenantRoute): OutgoingHttpHeaders {
  const incoming: IncomingHttpHeaders = req.headers;
  const named = new Set(
    (typeof incoming.connection === 'string' ? incoming.connection : '')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    headers[name] = value;
  }
  const client = req.socket.remoteAddress ?? '';
  const prior = incoming['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client;
  headers['x-forwarded-host'] = incoming.host ?? '';
  headers['x-forwarded-proto'] = 'http';
  headers['x-tenant-id'] = route.tenantId;
  return headers;
}

function responseHeaders(upstream: IncomingMessage): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  return headers;
}

export async function startFrontDoor({ edge, host = '127.0.0.1', port = 0 }: FrontDoorOptions): Promise<FrontDoor> {
  const agent = new Agent({ keepAlive: true, timeout: UPSTREAM_IDLE_TIMEOUT_MS, scheduling: 'lifo' });
  // A removed tenant's process drains once no connection is left, and after a release swap an idle
  // connection may still lead to the old, draining process: do not keep idle ones open to either.
  const dropIdle = (route: TenantRoute): void => {
    const separator = route.endpoint.lastIndexOf(':');
    const name = agent.getName({ host: route.endpoint.slice(0, separator), port: Number(route.endpoint.slice(separator + 1)) });
    for (const socket of agent.freeSockets[name] ?? []) socket.destroy();
  };
  edge.onRouteRemoved(dropIdle);
  edge.onConnectionsStale(dropIdle);
  let boundPort = port;

  const noTenantPage = (res: ServerResponse, requestHost: string | undefined): void => {
    const routes = edge.currentRoutes();
    const list = routes.length
      ? `Tenants served here: ${routes.map((r) => `<a href="${escapeHtml(edge.urlFor(r.hostLabel))}">${escapeHtml(r.hostLabel)}</a>`).join(', ')}.`
      : 'No tenant is served here yet.';
    sendHtml(
      res,
      404,
      page('Hostplane front door', [
        `<code>${escapeHtml(requestHost ?? '(no host)')}</code> names no tenant. A tenant is addressed by its host label: <code>${escapeHtml(`http://<tenant>.${edge.baseDomain}:${boundPort}/`)}</code>, or by an <code>X-Tenant-Id</code> header.`,
        list,
      ]),
    );
  };

  /** The file a request path names in the tenant's static-asset folder, if it holds one. */
  const findAsset = async (route: TenantRoute, pathname: string): Promise<{ file: string; key: string; size: number } | undefined> => {
    let key: string;
    try {
      key = pathname === '/' ? ROOT_OBJECT : decodeURIComponent(pathname).slice(1);
    } catch {
      return undefined;
    }
    // Keys are paths under the bucket, as in S3 behind CloudFront: `/assets/app.css` is `assets/app.css`.
    const root = edge.assetsFolder(route.assetsBucket);
    const file = resolve(root, key);
    if (key.includes('\0') || !file.startsWith(`${root}${sep}`)) return undefined;
    try {
      const info = await stat(file);
      return info.isFile() ? { file, key, size: info.size } : undefined;
    } catch {
      return undefined;
    }
  };

  const sendAsset = (req: IncomingMessage, res: ServerResponse, asset: { file: string; key: string; size: number }): void => {
    const contentType = staticAssetContentType(asset.key);
    res.writeHead(200, {
      'content-type': contentType,
      'content-length': asset.size,
      'cache-control': staticAssetCacheControl(asset.key),
      'x-content-type-options': 'nosniff',
      ...(contentType.startsWith('text/html') ? PAGE_HEADERS : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    pipeline(createReadStream(asset.file), res, () => undefined);
  };

  const serveAsset = async (req: IncomingMessage, res: ServerResponse, route: TenantRoute, pathname: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendHtml(res, 405, page('Method not allowed', ['Static assets are read-only.']));
    }
    const asset = await findAsset(route, pathname);
    if (!asset) return sendHtml(res, 404, page('Not found', [`No asset at <code>${escapeHtml(pathname)}</code>.`]));
    sendAsset(req, res, asset);
  };

  const proxy = (req: IncomingMessage, res: ServerResponse, route: TenantRoute, retried = false): void => {
    const separator = route.endpoint.lastIndexOf(':');
    const upstreamHost = route.endpoint.slice(0, separator).replace(/^\[|\]$/g, '');
    const upstreamPort = Number(route.endpoint.slice(separator + 1));
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BODY_BYTES) return sendTooLarge(res);
    const upstream = request({
      host: upstreamHost,
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req, route),
      agent,
    });
    upstream.on('response', (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders(upstreamRes));
      pipeline(upstreamRes, res, () => undefined);
    });
    let refusedAsTooLarge = false;
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (refusedAsTooLarge) return; // the upload was cut short here, and the client has its 413
      if (res.headersSent || res.destroyed) return void res.destroy();
      // A kept-alive connection the tenant closed just as it was reused: safe to try once more without a body.
      if (!retried && upstream.reusedSocket && error.code === 'ECONNRESET' && !hasBody && IDEMPOTENT.has(req.method ?? '')) {
        return proxy(req, res, route, true);
      }
      sendHtml(
        res,
        502,
        page('Tenant not answering', [
          `The service of tenant <code>${escapeHtml(route.tenantId)}</code> is not answering (${escapeHtml(error.code ?? error.message)}).`,
          'It may be starting, restarting or stopped; try again in a moment.',
        ]),
      );
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (!hasBody) return void upstream.end();
    // A body of unknown length (chunked) is counted as it passes: over the limit, the upload stops and the client gets 413.
    let received = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received <= MAX_REQUEST_BODY_BYTES) return done(null, chunk);
        refusedAsTooLarge = true;
        upstream.destroy();
        if (!res.headersSent) sendTooLarge(res);
        done();
      },
    });
    pipeline(req, limit, upstream, () => undefined);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    if (!target.startsWith('/')) return sendHtml(res, 400, page('Bad request', ['Only origin-form request targets are served.']));
    const label = labelOf(req.headers.host, edge.baseDomain);
    const headerTenant = req.headers['x-tenant-id'];
    let route: TenantRoute | undefined;
    if (label !== undefined) route = edge.lookup(label);
    else if (typeof headerTenant === 'string' && headerTenant !== '') route = edge.lookupTenant(headerTenant);
    else return noTenantPage(res, req.headers.host);
    if (!route) {
      const named = label !== undefined ? `host <code>${escapeHtml(req.headers.host ?? '')}</code>` : `tenant id <code>${escapeHtml(String(headerTenant))}</code>`;
      return sendHtml(res, 404, page('Unknown tenant', [`No tenant is served at ${named}.`, `Tenants are addressed as <code>${escapeHtml(`http://<tenant>.${edge.baseDomain}:${boundPort}/`)}</code>.`]));
    }
    const pathname = target.split('?', 1)[0] ?? '/';
    if (pathname.startsWith('/assets/')) return serveAsset(req, res, route, pathname);
    const isRead = req.method === 'GET' || req.method === 'HEAD';
    const asset = isRead && !pathname.startsWith('/api/') ? await findAsset(route, pathname) : undefined;
    if (asset) return sendAsset(req, res, asset);
    proxy(req, res, route);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      process.stderr.write(`front door: ${req.method} ${req.url} failed: ${String(error)}\n`);
      if (!res.headersSent) sendHtml(res, 500, page('Front door error', ['The front door failed to handle this request.']));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = CLIENT_KEEP_ALIVE_TIMEOUT_MS;

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address();
  boundPort = typeof address === 'object' && address ? address.port : port;

  return {
    port: boundPort,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
