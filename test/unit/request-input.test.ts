import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ValidationError } from '../../lambdas/domain/errors.js';
import { parseProvisionRequest } from '../../lambdas/domain/tenant-plan.js';
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

  it('refuses a display name with control characters (a terminal escape would reach whoever prints it)', () => {
    for (const displayName of ['Acme\u001b[2J', 'line\nbreak', 'bell\u0007', 'del\u007f']) {
      expect(() => parseProvisionRequest({ tenantId: 'acme', displayName })).toThrow(ValidationError);
    }
    expect(parseProvisionRequest({ tenantId: 'acme', displayName: 'Acme GmbH – Zürich' }).displayName).toBe('Acme GmbH – Zürich');
  });
});
