import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { API_ROUTES } from '../lambdas/api/routes.js';
import type { BackupStorePort } from '../lambdas/ports/backup-store.js';
import { DOWNLOADS_PATH, type SignedDownloadLinks } from './adapters/signed-download-links.js';
import { isConsolePath, serveConsole } from './console-files.js';
import { loadFunctionHandler } from './function-handlers.js';
import { invokeLikeLambda } from './lambda-invoker.js';
import { ownAuthorities, refusedRequest } from './api-request-guard.js';

const MAX_BODY_BYTES = 1024 * 1024;

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  readonly host?: string;
  readonly port?: number;
  /** Who the local operator is, as the Cognito authorizer would say. @default the login name */
  readonly operator?: string;
  /** Serves `/downloads/<key>` from the backup store to holders of a link these sign (S3's presigned GET, locally). */
  readonly downloads?: { readonly links: SignedDownloadLinks; readonly store: BackupStorePort };
  /**
   * How long a client may take to send a whole request (headers and body), as API Gateway's own
   * limit: a `Content-Length` larger than the body sent no longer holds a connection for Node's
   * default five minutes. @default REQUEST_TIMEOUT_MS
   */
  readonly requestTimeoutMs?: number;
}

/** API Gateway gives an integration 29 s; a client gets as long to send its request. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Matches a path against the API's resources (`/tenants/{id}`), giving the route and its path parameters. */
export function matchRoute(method: string, path: string) {
  const segments = path.split('/').filter(Boolean);
  // A malformed percent-encoding is the client's error (400), not a URIError and a 500.
  if (!segments.every(isPercentDecodable)) return { route: undefined, pathExists: false, malformed: true };
  let pathExists = false;
  for (const route of API_ROUTES) {
    const template = route.resource.split('/').filter(Boolean);
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = template.every((part, i) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name) params[name] = decodeURIComponent(segments[i]!);
      return name !== undefined || part === segments[i];
    });
    if (!matches) continue;
    pathExists = true;
    if (route.method === method) return { route, pathParameters: params };
  }
  return { route: undefined, pathExists };
}

function isPercentDecodable(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

/**
 * The control-plane API on one machine: a thin HTTP adapter that turns each request into the
 * API Gateway proxy event the Lambda would get and answers with what the same handler returns.
 */
export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  const operator = options.operator ?? process.env.USER ?? 'local-operator';
  let ownUrl = '';
  let authorities: string[] = [];
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  // Node checks the timeout every `connectionsCheckingInterval`: often enough for the limit to mean what it says.
  const serverOptions = { requestTimeout, headersTimeout: Math.min(requestTimeout, 10_000), connectionsCheckingInterval: Math.min(1_000, requestTimeout) };
  const server: Server = createServer(serverOptions, (req, res) => {
    const refused = refusedRequest(req, authorities);
    if (refused) {
      req.resume();
      send(res, { statusCode: refused.statusCode, body: JSON.stringify({ error: refused.error, message: refused.message }) });
      return;
    }
    handle(req, res, operator, ownUrl, options.downloads).catch((error: unknown) => {
      // A request cut short (the client went away, or took too long and got its 408): nobody to answer.
      if (req.destroyed || res.destroyed) return;
      console.error('local API adapter error', error);
      if (!res.headersSent) send(res, { statusCode: 500, body: JSON.stringify({ error: 'InternalError', message: 'internal error' }) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  ownUrl = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  authorities = ownAuthorities(address, port);
  return {
    port,
    url: ownUrl,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, operator: string, ownUrl: string, downloads: ApiServerOptions['downloads']): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  // The operators' console (console/README.md), served beside the API it calls.
  if (isConsolePath(url.pathname)) return serveConsole(req, res, ownUrl);
  const method = (req.method ?? 'GET').toUpperCase();
  if (downloads && method === 'GET' && url.pathname.startsWith(DOWNLOADS_PATH)) return serveDownload(url, res, downloads);
  const { route, pathParameters, pathExists, malformed } = matchRoute(method, url.pathname);
  if (malformed) {
    send(res, { statusCode: 400, body: JSON.stringify({ error: 'BadRequest', message: 'the path is not valid percent-encoding' }) });
    return;
  }
  if (!route) {
    const [statusCode, message] = pathExists ? [405, `${method} is not allowed on ${url.pathname}`] : [404, `no route ${url.pathname}`];
    send(res, { statusCode, body: JSON.stringify({ error: statusCode === 404 ? 'NotFound' : 'MethodNotAllowed', message }) });
    return;
  }
  const body = await readBody(req);
  if (body === undefined) {
    send(res, { statusCode: 413, body: JSON.stringify({ error: 'PayloadTooLarge', message: `body over ${MAX_BODY_BYTES} bytes` }) });
    return;
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers[name] = value;
    else if (Array.isArray(value)) headers[name] = value.join(',');
  }
  const query = Object.fromEntries(url.searchParams);
  const event = {
    httpMethod: method,
    path: url.pathname,
    resource: route.resource,
    pathParameters,
    headers,
    multiValueHeaders: {},
    queryStringParameters: Object.keys(query).length ? query : null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    body: body.length ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      requestId: randomUUID(),
      httpMethod: method,
      path: url.pathname,
      resourcePath: route.resource,
      stage: 'local',
      authorizer: { claims: { 'cognito:username': operator } },
    },
  } as unknown as APIGatewayProxyEvent;
  const handler = await loadFunctionHandler(route.function);
  send(res, (await invokeLikeLambda(handler, route.function, event)) as APIGatewayProxyResult);
}

/** A backup-store object, to the holder of a link that checks out: 403 when it does not or has expired (as S3 answers). */
async function serveDownload(url: URL, res: ServerResponse, { links, store }: NonNullable<ApiServerOptions['downloads']>): Promise<void> {
  let key: string;
  try {
    key = url.pathname.slice(DOWNLOADS_PATH.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    key = '';
  }
  const check = links.check(key, url.searchParams.get('expires'), url.searchParams.get('signature'));
  if (!check.ok) {
    const message = check.reason === 'expired' ? 'this link has expired: ask for the operation again for a new one' : 'this link is not valid';
    send(res, { statusCode: 403, body: JSON.stringify({ error: check.reason === 'expired' ? 'LinkExpired' : 'InvalidLink', message }) });
    return;
  }
  const content = await store.read(key);
  if (!content) {
    send(res, { statusCode: 404, body: JSON.stringify({ error: 'NotFound', message: `no object ${key}` }) });
    return;
  }
  const name = key.slice(key.lastIndexOf('/') + 1);
  res.writeHead(200, {
    'Content-Type': name.endsWith('.tar.gz') ? 'application/gzip' : 'application/octet-stream',
    'Content-Length': String(content.length),
    'Content-Disposition': `attachment; filename="${name}"`,
    'Cache-Control': 'no-store',
  });
  res.end(content);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, result: Pick<APIGatewayProxyResult, 'statusCode' | 'body'> & { headers?: APIGatewayProxyResult['headers'] }): void {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  res.writeHead(result.statusCode, headers);
  res.end(result.body);
}
