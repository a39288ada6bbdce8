import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { APP_DEFINITION_LIMITS } from '../../lambdas/app-definition/app-definition-schema.js';
import { APP_DEFINITION_CHANGED } from '../../lambdas/deploy/app-definition-changed.js';
import { tenantResourceNames } from '../../lambdas/domain/naming.js';
import type { TenantId } from '../../lambdas/domain/tenant-id.js';
import { api, DEPLOY_STATES, getThroughFrontDoor, startTestControlPlane, waitForOperation, waitForRelease, type TestControlPlane } from '../support/control-plane.js';
import { send } from '../support/http.js';
import { pollUntil } from '../support/poll.js';
import { TEST_DATABASE_URL, uniqueEnvironment } from '../support/services.js';

type Body = Record<string, unknown>;

const bookshop = JSON.parse(readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8')) as {
  name: string;
  entities: { name: string; fields: Record<string, unknown>[] }[];
};

const ISBN = { name: 'isbn', type: 'string' };

/** Bookshop with `book` reduced to its `keep` fields (default all), then `extra` fields added. */
function bookshopWith({ extra = [], keep }: { extra?: Record<string, unknown>[]; keep?: string[] } = {}) {
  return {
    ...bookshop,
    entities: bookshop.entities.map((entity) =>
      entity.name === 'book'
        ? { ...entity, fields: [...entity.fields.filter((f) => !keep || keep.includes(String(f.name))), ...extra] }
        : entity,
    ),
  };
}

describe('the deploy state machine, run by the local engine with the production handlers', () => {
  let cp: TestControlPlane;
  // Cache keys are `t:<tenant>:*` per cell, and every test run shares the machine's Redis: a tenant id
  // of this run's own keeps an earlier run's cached rows (30 s) out of this one.
  const tenant = `shop-${uniqueEnvironment('r')}`;
  const host = () => `${tenant}.localhost:${cp.edgePort}`;

  const operationEnded = (operationId: unknown) => waitForOperation(cp.apiUrl, operationId);

  /** POSTs a deployment and waits for it: the deployment as the API shows it at the end, and its operation. */
  async function deploy(body: Body): Promise<{ deployment: Body; operation: Body }> {
    const started = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, body);
    expect(started.status).toBe(202);
    const operation = await operationEnded(started.body.operationId);
    const { body: deployment } = await api(cp.apiUrl, 'GET', `/tenants/${tenant}/deployments/${String(started.body.deploymentId)}`);
    return { deployment, operation };
  }

  async function servedVersion(): Promise<{ release: string; app: string }> {
    const reply = await getThroughFrontDoor(cp.edgePort, host(), '/version');
    expect(reply.status).toBe(200);
    return JSON.parse(reply.body) as { release: string; app: string };
  }

  const serves = (release: unknown) => waitForRelease(cp.edgePort, host(), release);

  /**
   * Runs `work` while the tenant's database login is refused: a new release's process cannot connect,
   * so it never becomes healthy (the serving one keeps the connections it has).
   */
  async function whileTenantCannotLogIn(work: () => Promise<void>): Promise<void> {
    const { role } = tenantResourceNames({ environment: cp.environment, cell: 'local' }, tenant as TenantId);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER ROLE "${role}" NOLOGIN`);
      await work();
    } finally {
      await admin.query(`ALTER ROLE "${role}" LOGIN`);
      await admin.end();
    }
  }

  const statesOf = (operation: Body) => (operation.states as { state: string; status: string }[]).map((s) => `${s.state}:${s.status}`);

  beforeAll(async () => {
    cp = await startTestControlPlane({ reloaderPollMs: 100, releaseHealthTimeoutMs: 3_000, healthWaitSeconds: 30 });
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: tenant, displayName: 'Shop' });
    expect((await operationEnded(created.body.operationId)).status).toBe('SUCCEEDED');
  }, 60_000);

  afterAll(async () => {
    await cp?.destroy();
  });

  it('refuses to drop the starter app\'s table without allowDestructive, naming it', async () => {
    const refused = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, { definition: bookshop });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ field: 'note', refused: [expect.stringMatching(/^note: .*pass allowDestructive: true/)] });
  });

  it('deploys a definition: migrated, published, healthy, serving the generated API through the front door', async () => {
    const before = await servedVersion();
    const { deployment, operation } = await deploy({ definition: bookshop, allowDestructive: true });

    expect(operation.status).toBe('SUCCEEDED');
    expect(statesOf(operation)).toEqual(DEPLOY_STATES.map((state) => `${state}:SUCCEEDED`));
    expect(deployment).toMatchObject({
      status: 'SUCCEEDED',
      kind: 'deploy',
      app: 'Bookshop',
      previousReleaseId: before.release,
      rolledBack: false,
      migrations: expect.arrayContaining(['create table book', 'create table review', 'drop table note']),
    });
    // The very first request once the deployment says SUCCEEDED reaches the new release: the front
    // door has dropped the idle connections it held to the process now draining.
    expect(await servedVersion()).toEqual({ release: deployment.releaseId, app: 'Bookshop' });
    expect(await serves(deployment.releaseId)).toEqual({ release: deployment.releaseId, app: 'Bookshop' });
    expect((await api(cp.apiUrl, 'GET', `/tenants/${tenant}`)).body).toMatchObject({ version: deployment.releaseId, status: 'ACTIVE' });

    const created = await send(cp.edgePort, {
      method: 'POST',
      path: '/api/book',
      headers: { host: host(), 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Dune', pages: 412 }),
    });
    expect(created.status).toBe(201);
    const found = await getThroughFrontDoor(cp.edgePort, host(), '/api/book?title=Dune');
    expect(JSON.parse(found.body)).toMatchObject({ items: [{ title: 'Dune', pages: 412, published: false }], next: null });

    // Reads by id are cached in the tenant's own key prefix, through its own cache user (from its secret).
    const id = (JSON.parse(created.body) as { id: number }).id;
    const first = await send(cp.edgePort, { path: `/api/book/${id}`, headers: { host: host() } });
    const second = await send(cp.edgePort, { path: `/api/book/${id}`, headers: { host: host() } });
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['miss', 'hit']);
  });

  it('applies an additive change, refuses a destructive one unless allowed, and keeps the rows', async () => {
    const additive = await deploy({ definition: bookshopWith({ extra: [ISBN] }) });
    expect(additive.deployment).toMatchObject({ status: 'SUCCEEDED', migrations: [expect.stringContaining('isbn')] });

    const refused = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, { definition: bookshopWith({ keep: ['title'], extra: [ISBN] }) });
    expect(refused.status).toBe(400);
    expect(refused.body.refused).toEqual(expect.arrayContaining([expect.stringMatching(/book\.pages: .*allowDestructive/)]));
    expect((await serves(additive.deployment.releaseId)).release).toBe(additive.deployment.releaseId);

    const allowed = await deploy({ definition: bookshopWith({ keep: ['title'], extra: [ISBN] }), allowDestructive: true });
    expect(allowed.deployment).toMatchObject({ status: 'SUCCEEDED', allowDestructive: true });
    await serves(allowed.deployment.releaseId);
    const rows = await getThroughFrontDoor(cp.edgePort, host(), '/api/book?title=Dune');
    expect(JSON.parse(rows.body).items[0]).toEqual(expect.objectContaining({ title: 'Dune', isbn: null }));
    expect(JSON.parse(rows.body).items[0]).not.toHaveProperty('pages');
  });

  it('deploys the same definition again without changing anything', async () => {
    const current = await servedVersion();
    const again = await deploy({ definition: bookshopWith({ keep: ['title'], extra: [ISBN] }), allowDestructive: true });
    expect(again.deployment).toMatchObject({ status: 'SUCCEEDED', releaseId: current.release, previousReleaseId: current.release, migrations: [] });
    expect(statesOf(again.operation)).toContain('Migrate:SKIPPED');
  });

  it('rolls back a release that fails its health check: the old one keeps serving, the deployment says why', async () => {
    const serving = await servedVersion();
    await whileTenantCannotLogIn(async () => {
      const { deployment, operation } = await deploy({ definition: bookshopWith({ keep: ['title'], extra: [ISBN, { name: 'blurb', type: 'text' }] }) });

      expect(operation.status).toBe('FAILED');
      expect(statesOf(operation).slice(-3)).toEqual(['AwaitHealthy:FAILED', 'RollBack:SUCCEEDED', 'MarkDeploymentFailed:SUCCEEDED']);
      expect(deployment).toMatchObject({ status: 'FAILED', rolledBack: true, previousReleaseId: serving.release });
      expect(String(deployment.error)).toMatch(/did not become healthy/);
      expect(String(deployment.error)).toContain(`rolled back to ${serving.release}`);
    });
    expect(await servedVersion()).toEqual(serving);
  });

  it('rolls a deployment back on request, through the same machine, without migrations', async () => {
    const { body: list } = await api(cp.apiUrl, 'GET', `/tenants/${tenant}/deployments`);
    const items = list.items as Body[];
    const bookshopDeploy = items.find((d) => d.status === 'SUCCEEDED' && d.app === 'Bookshop' && d.previousReleaseId !== d.releaseId)!;
    const target = items.find((d) => d.releaseId === bookshopDeploy.previousReleaseId && d.status === 'SUCCEEDED');
    expect(target).toBeDefined();

    const started = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments/${String(bookshopDeploy.deploymentId)}/rollback`);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: 'rollback', rollbackOf: bookshopDeploy.deploymentId });
    const operation = await operationEnded(started.body.operationId);
    expect(operation.status).toBe('SUCCEEDED');
    expect(statesOf(operation)).not.toContain('PlanMigrations:SUCCEEDED');
    await serves(bookshopDeploy.previousReleaseId);
  });

  it('answers bad requests with 400 listing every problem, unknown tenants with 404, a busy tenant with 409', async () => {
    const bad = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, {
      definition: { name: 'X', entities: [{ name: 'a', fields: [{ name: 'b', type: 'strng' }, { name: 'c', type: 'integer', bogus: 1 }] }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual(
      expect.arrayContaining([expect.stringContaining('entities[0].fields[0].type'), expect.stringContaining('entities[0].fields[1]')]),
    );
    expect((await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, {})).body).toMatchObject({ field: 'definition' });
    expect((await api(cp.apiUrl, 'POST', '/tenants/nobody-here/deployments', { definition: bookshop })).status).toBe(404);
    expect((await api(cp.apiUrl, 'GET', `/tenants/${tenant}/deployments/dep-00000000-0000-0000-0000-000000000000`)).status).toBe(404);

    const first = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, { definition: bookshop, allowDestructive: true });
    const second = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, { definition: bookshop, allowDestructive: true });
    expect(second.status).toBe(409);
    expect(second.body.operationId).toBe(first.body.operationId);
    expect((await operationEnded(first.body.operationId)).status).toBe('SUCCEEDED');
  });

  it('answers a replayed Idempotency-Key with the first deployment, and the same key with another body with 409', async () => {
    const key = { 'Idempotency-Key': `redeploy-${tenant}` };
    const body = { definition: bookshop, allowDestructive: true };
    const first = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, body, key);
    const replay = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, body, key);
    expect(first.status).toBe(202);
    expect(replay.status).toBe(200);
    expect(replay.body.deploymentId).toBe(first.body.deploymentId);
    const other = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, { definition: bookshopWith({ extra: [ISBN] }) }, key);
    expect(other.status).toBe(409);
    expect(other.body.operationId).toBe(first.body.operationId);
    expect((await operationEnded(first.body.operationId)).status).toBe('SUCCEEDED');
  });

  it('deploys on an "App Definition Changed" event, with no person in the loop', async () => {
    const definition = bookshopWith({ extra: [{ name: 'subtitle', type: 'string' }] });
    await cp.ports.events.publish({
      source: APP_DEFINITION_CHANGED.source,
      detailType: APP_DEFINITION_CHANGED.detailType,
      detail: { tenantId: tenant, definition, changedBy: 'git:main', eventId: 'evt-1' },
    });
    const deployment = await pollUntil(
      async () => {
        const { body } = await api(cp.apiUrl, 'GET', `/tenants/${tenant}/deployments`);
        const found = (body.items as Body[]).find((d) => d.requestedBy === 'git:main');
        return found && found.status !== 'RUNNING' ? found : undefined;
      },
      { timeoutMs: 60_000, what: 'the event to be deployed' },
    );
    expect(deployment).toMatchObject({ status: 'SUCCEEDED', migrations: [expect.stringContaining('subtitle')] });
    await serves(deployment.releaseId);
  });
  it('flips back the release of a deploy whose execution is cut off after Publish (aborted, timed out)', async () => {
    const serving = await servedVersion();
    await whileTenantCannotLogIn(async () => {
      // The new release never becomes healthy, so the execution waits in AwaitHealthy: abort it there.
      const started = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, {
        definition: bookshopWith({ extra: [{ name: 'subtitle', type: 'string' }, { name: 'cut', type: 'text' }] }),
      });
      expect(started.status).toBe(202);
      await pollUntil(
        async () => ((await api(cp.apiUrl, 'GET', `/operations/${String(started.body.operationId)}`)).body.currentState === 'AwaitHealthy' ? true : undefined),
        { what: 'the deploy to wait in AwaitHealthy' },
      );
      await cp.workflows.drain({ abort: true });

      const deployment = await pollUntil(
        async () => {
          const { body } = await api(cp.apiUrl, 'GET', `/tenants/${tenant}/deployments/${String(started.body.deploymentId)}`);
          return body.status === 'FAILED' && body.rolledBack === true ? body : undefined;
        },
        { what: 'the cut-off deployment to be closed and rolled back' },
      );
      expect(String(deployment.error)).toMatch(/execution aborted.*rolled back to /);
      expect((await api(cp.apiUrl, 'GET', `/operations/${String(started.body.operationId)}`)).body.status).toBe('FAILED');
    });
    await serves(serving.release);
  });
  it('deploys a definition at the size limits without any state going over the 256 KB a state may hold', async () => {
    const { maxEntities, maxFieldsPerEntity } = APP_DEFINITION_LIMITS;
    const largest = {
      name: 'Largest',
      entities: Array.from({ length: maxEntities }, (_, e) => ({
        name: `entity${e}`,
        fields: Array.from({ length: maxFieldsPerEntity }, (_, f) => ({ name: `field${f}`, type: f % 2 ? 'integer' : 'string' })),
      })),
    };
    const { deployment, operation } = await deploy({ definition: largest, allowDestructive: true });

    expect(operation.error).toBeNull();
    expect(deployment).toMatchObject({ status: 'SUCCEEDED', app: 'Largest' });
    expect((deployment.migrations as string[]).filter((m) => m.startsWith('create table'))).toHaveLength(maxEntities);
    await serves(deployment.releaseId);
  });
});

describe('deploy notices: the runtime is woken on its cache channel, not only by polling', () => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    // Each runtime reads `current` every 10 minutes: within this test only a notice can reveal a release.
    cp = await startTestControlPlane({ reloaderPollMs: 600_000, healthWaitSeconds: 30 });
  });

  afterAll(async () => {
    await cp?.destroy();
  });

  it('swaps a release within seconds although the runtime would not poll for minutes', async () => {
    expect(cp.cache).toMatchObject({ available: true });
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'nudged' });
    const provisioned = await pollUntil(
      async () => {
        const { body } = await api(cp.apiUrl, 'GET', `/operations/${String(created.body.operationId)}`);
        return body.status === 'RUNNING' ? undefined : body;
      },
      { timeoutMs: 60_000, what: 'the provision to end' },
    );
    expect(provisioned.status).toBe('SUCCEEDED');
    const publish = (provisioned.states as { state: string; status: string }[]).find((s) => s.state === 'Publish');
    expect(publish?.status).toBe('SUCCEEDED');
    const version = await getThroughFrontDoor(cp.edgePort, `nudged.localhost:${cp.edgePort}`, '/version');
    expect(JSON.parse(version.body)).toMatchObject({ app: 'nudged' });
  });
});
