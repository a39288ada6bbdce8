import { afterEach, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { httpHandler } from '../../lambdas/api/http-handler.js';
import { jsonResponse } from '../../lambdas/api/responses.js';
import { NotFoundError } from '../../lambdas/domain/errors.js';
import { configurePorts, resetPorts, type Ports } from '../../lambdas/ports/index.js';

const CONSOLE = 'https://d111111abcdef8.cloudfront.net';

function withConfig(consoleOrigin: string | undefined): void {
  configurePorts({ config: { environment: 'test', cells: [], databaseEndpoint: { host: 'db', port: 5432 }, consoleOrigin } } as unknown as Ports);
}

const request = (origin?: string) =>
  ({ httpMethod: 'GET', path: '/tenants', headers: origin ? { Origin: origin } : {}, requestContext: {} }) as unknown as APIGatewayProxyEvent;
const context = { awsRequestId: 'req-1' } as Context;

describe('httpHandler and the console origin (CORS)', () => {
  afterEach(() => resetPorts());

  const ok = httpHandler(async () => jsonResponse(200, { tenants: [] }));
  const missing = httpHandler(async () => {
    throw new NotFoundError('no tenant acme');
  });

  it('lets the console read an answer, and an error answer, when the request comes from it', async () => {
    withConfig(CONSOLE);

    expect((await ok(request(CONSOLE), context)).headers).toMatchObject({ 'Access-Control-Allow-Origin': CONSOLE, 'Access-Control-Expose-Headers': 'Location' });
    const refused = await missing(request(CONSOLE), context);
    expect(refused.statusCode).toBe(404);
    expect(refused.headers).toMatchObject({ 'Access-Control-Allow-Origin': CONSOLE });
  });

  it('allows no other origin, and none at all where the console is same-origin (locally)', async () => {
    withConfig(CONSOLE);
    expect((await ok(request('https://evil.example'), context)).headers).not.toHaveProperty('Access-Control-Allow-Origin');

    withConfig(undefined);
    expect((await ok(request(CONSOLE), context)).headers).not.toHaveProperty('Access-Control-Allow-Origin');
  });
});
