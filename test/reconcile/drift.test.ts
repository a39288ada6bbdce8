/**
 * Drift on a real local control plane: tenants provisioned through its API, then broken by hand
 * (a database dropped, a process killed, a registry row set to DELETED, resources of a tenant
 * the registry never knew) and checked with the production findDrift / fixDrift / handler.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { registryDatabaseName, tenantResourceNames, type TenantResourceNames } from '../../lambdas/domain/naming.js';
import { tenantIdSchema } from '../../lambdas/domain/tenant-id.js';
import { reconcileTenants } from '../../lambdas/handlers/reconcile-tenants.js';
import { findDrift, type DriftReport } from '../../lambdas/reconcile/find-drift.js';
import { fixDrift } from '../../lambdas/reconcile/fix-drift.js';
import { TenantRegistry } from '../../lambdas/registry/tenant-registry.js';
import { api, getThroughFrontDoor, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { pollUntil } from '../support/poll.js';
import { tenantResidue } from '../support/residue.js';
import { TEST_DATABASE_URL } from '../support/services.js';

const WHOLE_TENANT = ['database', 'role', 'cache user', 'secrets', 'process', 'route', 'static assets', 'app files'];

async function adminQuery(sql: string, database?: string): Promise<void> {
  const url = new URL(TEST_DATABASE_URL);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const lines = (report: DriftReport, tenantId: string) =>
  report.tenants.find((tenant) => tenant.tenantId === tenantId)?.problems.map((p) => `${p.kind} ${p.resource} ${p.name}`);

describe('drift, on a real local control plane', () => {
  let cp: TestControlPlane;
  let names: (tenantId: string) => TenantResourceNames;
  const drift = () => findDrift(cp.ports, { environment: cp.environment });

  beforeAll(async () => {
    cp = await startTestControlPlane();
    names = (tenantId) => tenantResourceNames({ environment: cp.environment, cell: 'local' }, tenantIdSchema.parse(tenantId));
    const started = await Promise.all(['acme', 'bravo', 'gone'].map((tenantId) => api(cp.apiUrl, 'POST', '/tenants', { tenantId })));
    for (const { status, body } of started) {
      expect(status).toBe(202);
      const operation = await pollUntil(
        async () => {
          const { body: op } = await api(cp.apiUrl, 'GET', `/operations/${String(body.operationId)}`);
          return op.status === 'RUNNING' ? undefined : op;
        },
        { timeoutMs: 90_000, what: `operation ${String(body.operationId)} to end` },
      );
      expect(operation).toMatchObject({ status: 'SUCCEEDED' });
    }
  }, 180_000);

  afterAll(async () => {
    await cp?.destroy();
  });

  it('finds freshly provisioned tenants clean, and lists them as checked', async () => {
    const report = await drift();

    expect(report.environment).toBe(cp.environment);
    expect([...report.tenants].sort((a, b) => a.tenantId.localeCompare(b.tenantId))).toEqual([
      { tenantId: 'acme', status: 'ACTIVE', problems: [] },
      { tenantId: 'bravo', status: 'ACTIVE', problems: [] },
      { tenantId: 'gone', status: 'ACTIVE', problems: [] },
    ]);
    expect(report.unknown).toEqual([]);
    expect(report.notes).toEqual([]);
  });

  it('names the database of a tenant dropped by hand as missing', async () => {
    await adminQuery(`DROP DATABASE "${names('acme').database}" WITH (FORCE)`);

    const report = await drift();

    expect(lines(report, 'acme')).toContain(`missing database ${names('acme').database}`);
    expect(lines(report, 'bravo')).toEqual([]);
  });

  it('finds a tenant whose process was killed clean again once the runtime has restarted it', async () => {
    const service = names('bravo').computeService;
    const before = await cp.compute.describeService(service);
    expect(before).toMatchObject({ running: true, pid: expect.any(Number) });

    process.kill(before!.pid!, 'SIGKILL');
    const after = await pollUntil(
      async () => {
        const now = await cp.compute.describeService(service);
        return now?.running && now.pid !== before!.pid ? now : undefined;
      },
      { timeoutMs: 20_000, what: `${service} to be restarted` },
    );
    await pollUntil(async () => ((await getThroughFrontDoor(cp.edgePort, `bravo.localhost:${cp.edgePort}`, '/version')).status === 200 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'bravo to answer again',
    });

    expect(after.restarts).toBeGreaterThan(before!.restarts ?? 0);
    expect(lines(await drift(), 'bravo')).toEqual([]);
  });

  it('reports everything of a tenant marked DELETED as orphaned, and fixDrift removes it all without touching ACTIVE tenants', async () => {
    await adminQuery(`UPDATE tenants SET status = 'DELETED' WHERE tenant_id = 'gone'`, registryDatabaseName(cp.environment));
    const gone = names('gone');
    const acmeBefore = await tenantResidue(cp, 'acme');

    const report = await drift();
    const fixed = await fixDrift(report, cp.ports);
    const after = await drift();

    expect(lines(report, 'gone')).toEqual([
      `orphaned database ${gone.database}`,
      `orphaned role ${gone.role}`,
      `orphaned cache user ${gone.cacheUser}`,
      `orphaned secrets ${gone.cacheSecret}`,
      `orphaned secrets ${gone.databaseSecret}`,
      `orphaned compute ${gone.computeService}`,
      `orphaned route ${gone.hostLabel}`,
      `orphaned static assets ${gone.assetsBucket}`,
      `orphaned app files ${gone.appFilesFolder}`,
    ]);
    expect(fixed).toEqual([
      {
        tenantId: 'gone',
        status: 'DELETED',
        removed: [
          { resource: 'route', name: gone.hostLabel },
          { resource: 'compute', name: gone.computeService },
          { resource: 'static assets', name: gone.assetsBucket },
          { resource: 'cache user', name: gone.cacheUser },
          { resource: 'secrets', name: gone.cacheSecret },
          { resource: 'secrets', name: gone.databaseSecret },
          { resource: 'database', name: gone.database },
          { resource: 'role', name: gone.role },
          { resource: 'app files', name: gone.appFilesFolder },
        ],
        failed: [],
      },
    ]);
    expect(await tenantResidue(cp, 'gone')).toEqual([]);
    expect(lines(after, 'gone')).toEqual([]);
    expect(lines(after, 'bravo')).toEqual([]);
    expect(await tenantResidue(cp, 'bravo')).toEqual(WHOLE_TENANT);
    expect(await tenantResidue(cp, 'acme')).toEqual(acmeBefore);
    expect(lines(after, 'acme')).toContain(`missing database ${names('acme').database}`);
    const audit = await new TenantRegistry(cp.ports.sql).listAudit('gone');
    expect(audit.at(-1)).toMatchObject({ actor: 'hostplane', action: 'tenant.drift.fixed', detail: { registryStatus: 'DELETED', failed: [] } });
  });

  it('lists resources of a tenant the registry does not know, and the handler with fix removes them and checks again', async () => {
    const ghost = names('ghost');
    await cp.ports.secrets.getOrCreate(ghost.databaseSecret, () => ({ password: 'left-behind' }));
    await cp.edge.ensureStaticAssets(ghost.assetsBucket);
    await cp.ports.appFiles.ensureFolder(ghost.appFilesFolder);
    await adminQuery(`CREATE DATABASE "${ghost.database}"`);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);

    try {
      const reported = await reconcileTenants({});
      const result = await reconcileTenants({ fix: true, requestedBy: 'drift-test' });

      expect(reported.fixed).toBeUndefined();
      expect(reported.unknown.map((u) => `${u.tenantId} ${u.resource} ${u.name}`)).toEqual([
        `ghost database ${ghost.database}`,
        `ghost secrets ${ghost.databaseSecret}`,
        `ghost static assets ${ghost.assetsBucket}`,
        `ghost app files ${ghost.appFilesFolder}`,
      ]);
      expect(result.fixed).toEqual([
        {
          tenantId: 'ghost',
          status: null,
          removed: [
            { resource: 'static assets', name: ghost.assetsBucket },
            { resource: 'secrets', name: ghost.databaseSecret },
            { resource: 'database', name: ghost.database },
            { resource: 'app files', name: ghost.appFilesFolder },
          ],
          failed: [],
        },
      ]);
      expect(result.unknown).toEqual([]);
      expect(await tenantResidue(cp, 'ghost')).toEqual([]);
      expect(await tenantResidue(cp, 'bravo')).toEqual(WHOLE_TENANT);
      expect(log).toHaveBeenCalledWith(expect.stringContaining('"removed":4'));
      const audit = await new TenantRegistry(cp.ports.sql).listAudit('ghost');
      expect(audit).toEqual([expect.objectContaining({ actor: 'drift-test', action: 'tenant.drift.fixed' })]);
    } finally {
      log.mockRestore();
    }
  });
});
