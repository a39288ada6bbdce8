import type { IncomingMessage } from 'node:http';

/** Why a request is refused before it reaches a handler, as the answer says it. */
export interface RefusedRequest {
  readonly statusCode: 403 | 415;
  readonly error: 'ForbiddenHost' | 'ForbiddenOrigin' | 'UnsupportedMediaType';
  readonly message: string;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * The local control API answers only what its own operator sends: a web page the operator visits
 * must not drive it. So, before any handler runs:
 * - the Host must be one of the API's own names (loopback at its port, or the address it listens
 *   on): a page reaching it by DNS rebinding names another host, and is refused (403);
 * - a request a browser marks with an Origin must come from the API's own origin (the console it
 *   serves, under any of those names): another site's page is refused (403);
 * - a write carries JSON, declared as such: a page's `text/plain` "simple request", which a browser
 *   sends anywhere without asking, is refused (415).
 * The CLI and scripts send no Origin and name 127.0.0.1 or localhost, as before.
 */
export function refusedRequest(req: IncomingMessage, ownAuthorities: readonly string[]): RefusedRequest | undefined {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!ownAuthorities.includes(host)) {
    return { statusCode: 403, error: 'ForbiddenHost', message: `this API answers only as ${ownAuthorities.join(', ')}, not as ${JSON.stringify(host)}` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !ownAuthorities.some((authority) => origin.toLowerCase() === `http://${authority}`)) {
    return { statusCode: 403, error: 'ForbiddenOrigin', message: `requests from pages of ${JSON.stringify(origin)} are not accepted; use the console this API serves` };
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (WRITES.has(method) && hasBody && !JSON_TYPE.test(req.headers['content-type'] ?? '')) {
    return { statusCode: 415, error: 'UnsupportedMediaType', message: 'send the body as JSON (content-type: application/json)' };
  }
  return undefined;
}

/** The names the API answers as: loopback at its port, and the address it listens on when that is a specific one. */
export function ownAuthorities(listenAddress: string, port: number): string[] {
  const names = [...LOOPBACK_NAMES];
  const wildcard = listenAddress === '0.0.0.0' || listenAddress === '::';
  if (!wildcard && !names.includes(listenAddress)) names.push(listenAddress.includes(':') ? `[${listenAddress}]` : listenAddress);
  return names.map((name) => `${name}:${port}`);
}
