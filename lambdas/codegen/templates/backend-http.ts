/** `src/http.ts` of a generated app: answers, errors, request bodies, the draining flag. */
export const HTTP_SOURCE = String.raw`import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Set once the process drains: every answer from then on asks the client to close its connection. */
export const lifecycle = { draining: false };

export const MAX_BODY_BYTES = 1024 * 1024;

/** An answer other than success; the server turns it into JSON { error, field?, message }. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

/** 400 naming the field: { error: 'invalid_input', field, message: 'field: problem' }. */
export function invalid(field: string, problem: string): HttpError {
  return new HttpError(400, 'invalid_input', field + ': ' + problem, field);
}

export function notFound(message: string): HttpError {
  return new HttpError(404, 'not_found', message);
}

export function methodNotAllowed(allow: readonly string[]): HttpError {
  return new HttpError(405, 'method_not_allowed', 'use ' + allow.join(', '), undefined, { allow: allow.join(', ') });
}

export function send(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body?: string | Buffer): void {
  const all: OutgoingHttpHeaders = { 'x-content-type-options': 'nosniff', ...headers };
  if (body !== undefined) all['content-length'] = Buffer.byteLength(body);
  // Draining (see server.ts): the client opens its next request elsewhere, nothing is reset.
  if (lifecycle.draining) all.connection = 'close';
  res.writeHead(status, all);
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  send(res, status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, JSON.stringify(value));
}

export function sendError(res: ServerResponse, error: HttpError): void {
  const body: Record<string, string> = { error: error.code };
  if (error.field !== undefined) body.field = error.field;
  body.message = error.message;
  sendJson(res, error.status, body, error.headers);
}

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;|$)/i;

/** The request's JSON body; 400, 413 or 415 naming 'body' when it is not one. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !JSON_TYPE.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', 'body: send JSON (content-type: application/json)', 'body');
  }
  const tooLarge = () =>
    new HttpError(413, 'payload_too_large', 'body: is larger than ' + MAX_BODY_BYTES + ' bytes', 'body', { connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw invalid('body', 'is empty; send a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid('body', 'is not valid JSON');
  }
}
`;
