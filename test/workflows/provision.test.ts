import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { api, DEPLOY_STATES, getThroughFrontDoor, startTestControlPlane, waitForOperation, type TestControlPlane } from '../support/control-plane.js';

describe('the provision state machine, run by the local engine with the production handlers', () => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane();
  });

  afterAll(async () => {
    await cp?.destroy();
  });

  it('provisions a tenant that ends ACTIVE and answers from its own process', async () => {
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'acme', tier: 'pooled', displayName: 'Acme Books' });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ tenantId: 'acme', kind: 'provision', status: 'RUNNING' });

    const operation = await waitForOperation(cp.apiUrl, String(created.body.operationId));
    expect(operation).toMatchObject({ status: 'SUCCEEDED', error: null });
    const states = (operation.states as { state: string; status: string }[]).map((s) => `${s.state}:${s.status}`);
    expect(states).toEqual(
      expect.arrayContaining([
        'ValidateTenantRequest:SUCCEEDED',
        'CreateTenantDatabase:SUCCEEDED',
        'CreateTenantCacheUser:SUCCEEDED',
        'CreateStaticAssets:SUCCEEDED',
        'StartTenantCompute:SUCCEEDED',
        'PrepareStarterApp:SUCCEEDED',
        ...DEPLOY_STATES.map((state) => `${state}:SUCCEEDED`),
        'RegisterTenantRoute:SUCCEEDED',
        'MarkTenantActive:SUCCEEDED',
      ]),
    );
    expect(states[0]).toBe('ValidateTenantRequest:SUCCEEDED');
    expect(states.at(-1)).toBe('MarkTenantActive:SUCCEEDED');

    const tenant = await api(cp.apiUrl, 'GET', '/tenants/acme');
    expect(tenant.body).toMatchObject({ status: 'ACTIVE', tier: 'pooled', version: expect.stringMatching(/^[0-9a-f]{16}$/), cell: 'local' });
    expect(tenant.body.url).toBe(`http://acme.localhost:${cp.edgePort}/`);

    const page = await getThroughFrontDoor(cp.edgePort, `acme.localhost:${cp.edgePort}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Acme Books</title>');
    const version = await getThroughFrontDoor(cp.edgePort, `acme.localhost:${cp.edgePort}`, '/version');
    expect(JSON.parse(version.body)).toEqual({ release: tenant.body.version, app: 'Acme Books' });
    const notes = await getThroughFrontDoor(cp.edgePort, `acme.localhost:${cp.edgePort}`, '/api/note');
    expect(JSON.parse(notes.body)).toEqual({ items: [], next: null });
    const service = await cp.compute.describeService(`hp-${cp.environment}-local-acme`);
    expect(service).toMatchObject({ running: true });
  });

  it('answers a replayed Idempotency-Key with the first operation, and a new request on a busy tenant with 409', async () => {
    const key = { 'Idempotency-Key': 'create-bravo-1' };
    const first = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'bravo' }, key);
    const replay = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'bravo' }, key);
    expect(first.status).toBe(202);
    expect(replay.status).toBe(200);
    expect(replay.body.operationId).toBe(first.body.operationId);

    const reused = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'bravo', tier: 'dedicated' }, key);
    expect(reused.status).toBe(409);

    const again = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'bravo' });
    expect(again.status).toBe(409);
    await waitForOperation(cp.apiUrl, String(first.body.operationId));
    const afterwards = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'bravo' });
    expect(afterwards.status).toBe(409);
    expect(afterwards.body.message).toContain('already exists and is ACTIVE');
  });

  it('rejects bad input with 400 naming the field, and unknown tenants with 404', async () => {
    const badId = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'Bad_Id' });
    expect(badId.status).toBe(400);
    expect(badId.body).toMatchObject({ field: 'tenantId' });
    const reserved = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'admin' });
    expect(reserved.body).toMatchObject({ field: 'tenantId', message: 'tenantId: is a reserved word' });
    const badTier = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'okay-name', tier: 'gold' });
    expect(badTier.body).toMatchObject({ field: 'tier' });
    const notJson = await fetch(`${cp.apiUrl}/tenants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(notJson.status).toBe(400);
    // A body not declared JSON (fetch's default text/plain, a web page's simple request) never reaches a handler.
    const plainText = await fetch(`${cp.apiUrl}/tenants`, { method: 'POST', body: '{"tenantId":"plain"}' });
    expect(plainText.status).toBe(415);
    expect(await api(cp.apiUrl, 'GET', '/tenants/nobody-here')).toMatchObject({ status: 404 });
    expect(await api(cp.apiUrl, 'GET', '/operations/op-00000000-0000-0000-0000-000000000000')).toMatchObject({ status: 404 });
    expect((await api(cp.apiUrl, 'DELETE', '/tenants')).status).toBe(405);
  });

  it('lists tenants with status, url, creation time and version', async () => {
    const { body } = await api(cp.apiUrl, 'GET', '/tenants');
    const acme = (body.items as Record<string, unknown>[]).find((t) => t.tenantId === 'acme');
    expect(acme).toMatchObject({ status: 'ACTIVE', version: expect.stringMatching(/^[0-9a-f]{16}$/), url: expect.stringContaining('acme.localhost') });
    expect(Date.parse(String(acme?.createdAt))).not.toBeNaN();
  });
});

describe('provision when no Redis is reachable', () => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    const { freeLoopbackPort } = await import('../../local/process-helpers.js');
    cp = await startTestControlPlane({ redisUrl: `redis://127.0.0.1:${await freeLoopbackPort()}` });
  });

  afterAll(async () => {
    await cp?.destroy();
  });

  it('skips the cache step with the reason, and provisions everything else', async () => {
    expect(cp.cache).toMatchObject({ available: false });
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'nocache' });
    const operation = await waitForOperation(cp.apiUrl, String(created.body.operationId));
    expect(operation.status).toBe('SUCCEEDED');
    const cacheStep = (operation.states as { state: string; status: string; detail: string }[]).find((s) => s.state === 'CreateTenantCacheUser');
    expect(cacheStep).toMatchObject({ status: 'SKIPPED', detail: expect.stringMatching(/no Redis reachable at redis:\/\/127\.0\.0\.1:\d+/) });
    const page = await getThroughFrontDoor(cp.edgePort, `nocache.localhost:${cp.edgePort}`);
    expect(page.status).toBe(200);
  });
});
