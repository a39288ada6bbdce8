import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the console's sources live (`console/` at the repository root). */
export const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'console');

/** The path the local API server serves the console under. */
export const CONSOLE_PATH = '/console/';

/** The files a browser may fetch, by name: nothing else of the folder (or outside it) is served. */
const CONSOLE_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'styles.css': 'text/css; charset=utf-8',
};

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/;

/** Whether `pathname` is the console's (`/console` or under `/console/`). */
export function isConsolePath(pathname: string): boolean {
  return pathname === '/console' || pathname.startsWith(CONSOLE_PATH);
}

/**
 * Serves the console on the local API server: its static files, and a `config.json` that points it
 * at this same origin with no sign-in (the local API has no authorizer). The origin is the one the
 * browser used when it is a loopback name, so the page's `connect-src 'self'` admits the API.
 */
export async function serveConsole(req: IncomingMessage, res: ServerResponse, ownUrl: string): Promise<void> {
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (pathname === '/console') {
    res.writeHead(308, { Location: CONSOLE_PATH });
    res.end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'text/plain; charset=utf-8', 'the console is read-only', { Allow: 'GET, HEAD' });
    return;
  }
  const name = pathname.slice(CONSOLE_PATH.length) || 'index.html';
  if (name === 'config.json') {
    const host = req.headers.host;
    const apiUrl = host && LOOPBACK_HOST.test(host) ? `http://${host}` : ownUrl;
    sendText(res, 200, 'application/json', JSON.stringify({ apiUrl, auth: null }), { 'Cache-Control': 'no-store' });
    return;
  }
  const type = CONSOLE_FILES[name];
  if (!type) {
    sendText(res, 404, 'application/json', JSON.stringify({ error: 'NotFound', message: `no console file ${name}` }));
    return;
  }
  const body = await readFile(join(CONSOLE_DIR, name));
  sendText(res, 200, type, req.method === 'HEAD' ? '' : body, { 'Cache-Control': 'no-cache' });
}

function sendText(res: ServerResponse, statusCode: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(statusCode, {
    'Content-Type': type,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    ...headers,
  });
  res.end(body);
}
