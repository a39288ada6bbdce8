import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { readReleaseFrontEnd } from '../../lambdas/deploy/release-front-end.js';
import { currentRelease } from '../../lambdas/deploy/releases.js';
import { tenantResourceNames, type TenantResourceNames } from '../../lambdas/domain/naming.js';
import type { TenantId } from '../../lambdas/domain/tenant-id.js';
import { api, startTestControlPlane, waitForOperation, type TestControlPlane } from '../support/control-plane.js';
import { send } from '../support/http.js';
import { TEST_DATABASE_URL, uniqueEnvironment } from '../support/services.js';

type Body = Record<string, unknown>;

const bookshop = JSON.parse(readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8')) as {
  name: string;
  entities: { name: string; fields: Record<string, unknown>[] }[];
};

describe('a release\'s front end at the edge: published by the deploy, put back by a rollback (local engine, production handlers)', () => {
  let cp: TestControlPlane;
  let names: TenantResourceNames;
  const tenant = `web-${uniqueEnvironment('r')}`;

  const statesOf = (operation: Body) => (operation.states as { state: string; status: string }[]).map((s) => `${s.state}:${s.status}`);

  async function deploy(body: Body): Promise<{ deployment: Body; operation: Body }> {
    const started = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, body);
    expect(started.status).toBe(202);
    const operation = await waitForOperation(cp.apiUrl, started.body.operationId);
    const { body: deployment } = await api(cp.apiUrl, 'GET', `/tenants/${tenant}/deployments/${String(started.body.deploymentId)}`);
    return { deployment, operation };
  }

  /** The release's `public/` files, as Compile staged them in the tenant's app files. */
  async function frontEndOf(releaseId: string): Promise<Record<string, string>> {
    const files = await readReleaseFrontEnd(cp.ports.appFiles, names.appFilesFolder, releaseId);
    return Object.fromEntries(Object.entries(files).map(([key, content]) => [key, Buffer.from(content).toString('utf8')]));
  }

  /**
   * What the edge serves: the store's files, and each one fetched through the front door (`/` for
   * `index.html`). The answers carry no ETag: the app's own copies do, so these came from the store.
   */
  async function servedFrontEnd(): Promise<{ keys: string[]; bodies: Record<string, string> }> {
    // The generated front end is flat: index.html, app.js, style.css.
    const keys = (await readdir(cp.edge.assetsFolder(names.assetsBucket), { withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name)
      .sort();
    const bodies: Record<string, string> = {};
    for (const key of keys) {
      const reply = await send(cp.edgePort, { path: key === 'index.html' ? '/' : `/${key}`, headers: { host: `${tenant}.localhost:${cp.edgePort}` } });
      expect({ key, status: reply.status, etag: reply.headers.etag }).toEqual({ key, status: 200, etag: undefined });
      bodies[key] = reply.body;
    }
    return { keys, bodies };
  }

  async function expectServing(releaseId: string): Promise<void> {
    const expected = await frontEndOf(releaseId);
    expect(await servedFrontEnd()).toEqual({ keys: Object.keys(expected).sort(), bodies: expected });
  }

  async function current(): Promise<string> {
    const id = await currentRelease(cp.ports.appFiles, names.appFilesFolder);
    expect(id).toBeDefined();
    return id!;
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ reloaderPollMs: 100, releaseHealthTimeoutMs: 3_000, healthWaitSeconds: 30 });
    names = tenantResourceNames({ environment: cp.environment, cell: 'local' }, tenant as TenantId);
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: tenant, displayName: 'Web' });
    expect((await waitForOperation(cp.apiUrl, created.body.operationId)).status).toBe('SUCCEEDED');
  }, 60_000);

  afterAll(async () => {
    await cp?.destroy();
  });

  it('serves the starter app\'s front end from the asset store once provisioned', async () => {
    const starter = await current();

    expect(Object.keys(await frontEndOf(starter)).sort()).toEqual(['app.js', 'index.html', 'style.css']);
    await expectServing(starter);
  });

  it('publishes a new release\'s front end with the deploy, and puts the serving one back when a deploy fails after Publish', async () => {
    const starter = await current();

    const { operation } = await deploy({ definition: bookshop, allowDestructive: true });
    const bookshopRelease = await current();
    const afterDeploy = await servedFrontEnd();
    expect(operation.status).toBe('SUCCEEDED');
    expect(bookshopRelease).not.toBe(starter);
    expect(afterDeploy.bodies['app.js']).toContain('Bookshop');
    await expectServing(bookshopRelease);

    // The next release cannot become healthy (its database login is refused): Publish wrote its
    // front end, AwaitHealthy fails, RollBack must leave the edge serving Bookshop's again.
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER ROLE "${names.role}" NOLOGIN`);
      const extra = { ...bookshop, name: 'Bookshop Two' };
      const failed = await deploy({ definition: extra });
      expect(failed.operation.status).toBe('FAILED');
      expect(statesOf(failed.operation).slice(-3)).toEqual(['AwaitHealthy:FAILED', 'RollBack:SUCCEEDED', 'MarkDeploymentFailed:SUCCEEDED']);
    } finally {
      await admin.query(`ALTER ROLE "${names.role}" LOGIN`);
      await admin.end();
    }
    expect(await current()).toBe(bookshopRelease);
    await expectServing(bookshopRelease);
  }, 90_000);

  it('serves the earlier release\'s front end again after a rollback request', async () => {
    const { body: list } = await api(cp.apiUrl, 'GET', `/tenants/${tenant}/deployments`);
    const bookshopDeploy = (list.items as Body[]).find((d) => d.status === 'SUCCEEDED' && d.app === 'Bookshop')!;
    expect(bookshopDeploy).toBeDefined();

    const started = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments/${String(bookshopDeploy.deploymentId)}/rollback`);
    const operation = await waitForOperation(cp.apiUrl, started.body.operationId);

    expect(operation.status).toBe('SUCCEEDED');
    expect(await current()).toBe(bookshopDeploy.previousReleaseId);
    await expectServing(String(bookshopDeploy.previousReleaseId));
  }, 60_000);
});
