import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ValidationError } from '../../lambdas/domain/errors.js';
import { parseProvisionRequest } from '../../lambdas/domain/tenant-plan.js';
import { connect } from 'node:net';
import { startApiServer, type ApiServer } from '../../local/api-server.js';

/** Bad input gets a 4xx that names it, never a 500 (issue 11, item 8). */
describe('request input the control API refuses', () => {
  let api: ApiServer;

  beforeAll(async () => {
    api = await startApiServer({ port: 0 });
  });

  afterAll(async () => {
    await api.close();
  });

  it('answers 400 to a path with malformed percent-encoding (it was a URIError and a 500)', async () => {
    const answer = await fetch(`${api.url}/tenants/%E0%A4%A`);
    expect({ status: answer.status, body: (await answer.json()) as unknown }).toEqual({
      status: 400,
      body: { error: 'BadRequest', message: 'the path is not valid percent-encoding' },
    });
  });

  it('does not wait for a body that never comes: a Content-Length larger than the body is answered 408 and the connection closed', async () => {
    const impatient = await startApiServer({ port: 0, requestTimeoutMs: 500 });
    try {
      const started = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(impatient.port, '127.0.0.1', () => {
          socket.write(`POST /tenants HTTP/1.1\r\nHost: 127.0.0.1:${impatient.port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"tenantId":`);
        });
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
        socket.setTimeout(20_000, () => socket.destroy(new Error('the API held the connection open for 20 s')));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await impatient.close();
    }
  });

  it('refuses a display name with control characters (a terminal escape would reach whoever prints it)', () => {
    for (const displayName of ['Acme\u001b[2J', 'line\nbreak', 'bell\u0007', 'del\u007f']) {
      expect(() => parseProvisionRequest({ tenantId: 'acme', displayName })).toThrow(ValidationError);
    }
    expect(parseProvisionRequest({ tenantId: 'acme', displayName: 'Acme GmbH – Zürich' }).displayName).toBe('Acme GmbH – Zürich');
  });
});
