import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { startApiServer, type ApiServer } from '../../local/api-server.js';

/**
 * The local control API obeys its operator only (issue 11, item 2): a page the operator visits
 * could create tenants or deploy with allowDestructive through a `text/plain` "simple request",
 * and read everything through DNS rebinding. Each refusal here happens before any handler runs,
 * so these requests need no registry; what passes reaches the handler, which refuses the
 * deliberately invalid body with its own 400.
 */
describe('the local control API refuses what a foreign web page sends', () => {
  let api: ApiServer;

  beforeAll(async () => {
    api = await startApiServer({ port: 0 });
  });

  afterAll(async () => {
    await api.close();
  });

  function call(headers: Record<string, string>, { method = 'POST', body = '{"tenantId":"acme"}' } = {}): Promise<{ status: number; error?: string }> {
    return new Promise((resolve, reject) => {
      const sent = method === 'GET' ? '' : body;
      const req = request({ host: '127.0.0.1', port: api.port, method, path: '/no-such-route', headers: { 'content-length': String(Buffer.byteLength(sent)), ...headers } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, error: (JSON.parse(text || '{}') as { error?: string }).error }));
      });
      req.on('error', reject);
      req.end(sent);
    });
  }

  const own = () => `127.0.0.1:${api.port}`;

  it('lets the operator through: the CLI (no Origin) and the console it serves (its own origin, as 127.0.0.1 or localhost)', async () => {
    expect(await call({ host: own(), 'content-type': 'application/json' })).toEqual({ status: 404, error: 'NotFound' });
    expect(await call({ host: own(), origin: `http://${own()}`, 'content-type': 'application/json' })).toEqual({ status: 404, error: 'NotFound' });
    expect(await call({ host: `localhost:${api.port}`, origin: `http://localhost:${api.port}`, 'content-type': 'application/json; charset=utf-8' })).toEqual({
      status: 404,
      error: 'NotFound',
    });
    expect(await call({ host: own() }, { method: 'GET' })).toEqual({ status: 404, error: 'NotFound' });
  });

  it("refuses another site's page (403), a simple text/plain request included", async () => {
    expect(await call({ host: own(), origin: 'https://evil.example', 'content-type': 'application/json' })).toEqual({ status: 403, error: 'ForbiddenOrigin' });
    expect(await call({ host: own(), origin: 'https://evil.example', 'content-type': 'text/plain' })).toEqual({ status: 403, error: 'ForbiddenOrigin' });
    expect(await call({ host: own(), origin: 'null', 'content-type': 'application/json' })).toEqual({ status: 403, error: 'ForbiddenOrigin' });
  });

  it('refuses a body that is not declared JSON (415), whoever sends it', async () => {
    expect(await call({ host: own(), 'content-type': 'text/plain' })).toEqual({ status: 415, error: 'UnsupportedMediaType' });
    expect(await call({ host: own() })).toEqual({ status: 415, error: 'UnsupportedMediaType' });
  });

  it('refuses a request naming another host, as DNS rebinding would (403), reads included', async () => {
    expect(await call({ host: `rebind.evil.example:${api.port}`, 'content-type': 'application/json' })).toEqual({ status: 403, error: 'ForbiddenHost' });
    expect(await call({ host: `rebind.evil.example:${api.port}` }, { method: 'GET' })).toEqual({ status: 403, error: 'ForbiddenHost' });
    expect(await call({ host: `127.0.0.1:${api.port + 1}` }, { method: 'GET' })).toEqual({ status: 403, error: 'ForbiddenHost' });
  });
});
