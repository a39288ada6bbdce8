/**
 * "Every state machine run twice with the same input gives the same end state": each machine is
 * started again, under another execution name, with the input of a run that already ended.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowName } from '../../lambdas/ports/workflows.js';
import { TenantRegistry } from '../../lambdas/registry/tenant-registry.js';
import { api, getThroughFrontDoor, startTestControlPlane, waitForOperation, waitForRelease, type TestControlPlane } from '../support/control-plane.js';
import { tenantResidue } from '../support/residue.js';

type Body = Record<string, unknown>;

const bookshop = JSON.parse(readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8')) as unknown;

describe('running a state machine again with the input of a run that ended', () => {
  let cp: TestControlPlane;

  const ended = (operationId: unknown) => waitForOperation(cp.apiUrl, operationId);

  /** Starts `workflow` again with the recorded input of `operationId`, and waits for that run. */
  async function runAgain(workflow: WorkflowName, operationId: unknown, input?: Record<string, unknown>) {
    const recorded = await new TenantRegistry(cp.ports.sql).getOperation(String(operationId));
    const { executionId } = await cp.workflows.start(workflow, `${String(operationId)}-again`, input ?? (recorded!.input as Record<string, unknown>));
    return cp.workflows.waitFor(executionId);
  }

  async function tenant(tenantId: string): Promise<Body> {
    return (await api(cp.apiUrl, 'GET', `/tenants/${tenantId}`)).body;
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ reloaderPollMs: 100 });
  });

  afterAll(async () => {
    await cp?.destroy();
  });

  it('provision: the ACTIVE tenant it made stays ACTIVE and whole, serving the app deployed since', async () => {
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'again' });
    expect((await ended(created.body.operationId)).status).toBe('SUCCEEDED');
    // The owner's own app since: a provision run again must neither redeploy the starter nor compensate.
    const deployed = await api(cp.apiUrl, 'POST', '/tenants/again/deployments', { definition: bookshop, allowDestructive: true });
    expect((await ended(deployed.body.operationId)).status).toBe('SUCCEEDED');
    const before = await tenant('again');

    await runAgain('provision', created.body.operationId);

    expect(await tenant('again')).toMatchObject({ status: 'ACTIVE', version: before.version, url: before.url });
    expect((await api(cp.apiUrl, 'GET', `/operations/${String(created.body.operationId)}`)).body.status).toBe('SUCCEEDED');
    await waitForRelease(cp.edgePort, `again.localhost:${cp.edgePort}`, before.version);
  });

  it('deploy: the deployment stays SUCCEEDED and the tenant keeps its release', async () => {
    const before = await tenant('again');
    const { body: list } = await api(cp.apiUrl, 'GET', '/tenants/again/deployments');
    const starter = (list.items as Body[]).at(-1)!;

    await runAgain('deploy', starter.operationId, { operationId: starter.operationId, deploymentId: starter.deploymentId });

    expect((await api(cp.apiUrl, 'GET', `/tenants/again/deployments/${String(starter.deploymentId)}`)).body).toMatchObject({ status: 'SUCCEEDED' });
    expect(await tenant('again')).toMatchObject({ status: 'ACTIVE', version: before.version });
  });

  it('deprovision: the tenant stays DELETED with nothing of it left, and a tenant made since is untouched', async () => {
    const deleted = await api(cp.apiUrl, 'DELETE', '/tenants/again');
    expect((await ended(deleted.body.operationId)).status).toBe('SUCCEEDED');

    const rerun = await runAgain('deprovision', deleted.body.operationId);
    expect(rerun.status).toBe('SUCCEEDED');
    expect(await tenant('again')).toMatchObject({ status: 'DELETED' });
    expect(await tenantResidue(cp, 'again')).toEqual([]);

    // Provisioned again since: the old deprovision's input must not remove the new tenant.
    const back = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'again' });
    expect((await ended(back.body.operationId)).status).toBe('SUCCEEDED');
    await runAgain('deprovision', deleted.body.operationId);
    expect(await tenant('again')).toMatchObject({ status: 'ACTIVE' });
    expect((await getThroughFrontDoor(cp.edgePort, `again.localhost:${cp.edgePort}`, '/version')).status).toBe(200);
  });
});
