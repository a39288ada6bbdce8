import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PermanentError } from '../../lambdas/domain/errors.js';
import type { InjectedFault } from '../../local/adapters/local-workflows.js';
import { api, startTestControlPlane, waitForOperation, type TestControlPlane } from '../support/control-plane.js';
import { send } from '../support/http.js';
import { pollUntil } from '../support/poll.js';
import { tenantResidue } from '../support/residue.js';

type Body = Record<string, unknown>;

const bookshop = JSON.parse(readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8')) as unknown;

/** The deprovision machine's Task states, in the order they run. */
const DEPROVISION_STEPS = [
  'MarkDeprovisioning',
  'BackupTenant',
  'ConfirmFinalBackup',
  'RemoveTenantRoute',
  'RemoveTenantCompute',
  'RemoveStaticAssets',
  'RemoveTenantCacheUser',
  'RemoveTenantDatabase',
  'RemoveTenantSecrets',
  'RemoveAppFiles',
  'MarkTenantDeleted',
] as const;

describe('the deprovision state machine, run by the local engine with the production handlers', () => {
  const faults: Record<string, InjectedFault> = {};
  let cp: TestControlPlane;

  const ended = (operationId: unknown) => waitForOperation(cp.apiUrl, operationId);

  async function provision(tenantId: string): Promise<void> {
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId });
    expect(created.status).toBe(202);
    expect((await ended(created.body.operationId)).status).toBe('SUCCEEDED');
  }

  async function deprovision(tenantId: string): Promise<Body> {
    const started = await api(cp.apiUrl, 'DELETE', `/tenants/${tenantId}`);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: 'deprovision', status: 'RUNNING' });
    return ended(started.body.operationId);
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ faults, reloaderPollMs: 100 });
  });

  afterAll(async () => {
    await cp?.destroy();
  });

  it('removes every resource of a tenant with data, after a final backup, and frees its id', async () => {
    await provision('leaving');
    const deployed = await api(cp.apiUrl, 'POST', '/tenants/leaving/deployments', { definition: bookshop, allowDestructive: true });
    expect((await ended(deployed.body.operationId)).status).toBe('SUCCEEDED');
    await pollUntil(async () => {
      const reply = await send(cp.edgePort, {
        method: 'POST',
        path: '/api/book',
        headers: { host: `leaving.localhost:${cp.edgePort}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'Dune' }),
      });
      return reply.status === 201 ? true : undefined;
    }, { what: 'a row written through the new release' });

    const operation = await deprovision('leaving');

    expect(operation).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect((operation.states as { state: string }[]).map((s) => s.state)).toEqual([...DEPROVISION_STEPS]);
    const backup = (operation.states as { state: string; status: string }[]).find((s) => s.state === 'BackupTenant');
    expect(backup?.status).toBe('SUCCEEDED');
    expect((await api(cp.apiUrl, 'GET', '/tenants/leaving')).body).toMatchObject({ status: 'DELETED', url: null, version: null });
    expect(await tenantResidue(cp, 'leaving')).toEqual([]);
    expect((await api(cp.apiUrl, 'GET', '/tenants')).body.items).not.toEqual(expect.arrayContaining([expect.objectContaining({ tenantId: 'leaving' })]));

    const { body: backups } = await api(cp.apiUrl, 'GET', '/tenants/leaving/backups');
    const final = (backups.items as Body[])[0]!;
    expect(final).toMatchObject({ reason: 'final', app: 'Bookshop', rows: 1, expiresAt: expect.any(String) });

    // The customer comes back: the id is free, and the final backup restores into the new tenant.
    await provision('leaving');
    expect((await api(cp.apiUrl, 'GET', '/tenants/leaving')).body).toMatchObject({ status: 'ACTIVE' });
    const restoring = await api(cp.apiUrl, 'POST', '/tenants/leaving/restore', { backupId: final.backupId });
    expect(restoring.status).toBe(202);
    const restored = await ended(restoring.body.operationId);
    expect(restored).toMatchObject({ kind: 'restore', status: 'SUCCEEDED' });
    const result = restored.result as Body;
    expect(result.entities).toEqual(expect.arrayContaining([{ entity: 'book', rows: 1 }, { entity: 'review', rows: 0 }]));
    // The backup's app (Bookshop) is not the starter app the new tenant runs: it is deployed again.
    expect(result.deploymentId).toEqual(expect.any(String));
    expect((await ended(result.deploymentOperationId)).status).toBe('SUCCEEDED');
    const books = await pollUntil(async () => {
      const reply = await send(cp.edgePort, { path: '/api/book', headers: { host: `leaving.localhost:${cp.edgePort}` } });
      return reply.status === 200 ? (JSON.parse(reply.body) as { items: Body[] }).items : undefined;
    }, { what: 'the restored rows through the redeployed app' });
    expect(books).toEqual([expect.objectContaining({ id: 1, title: 'Dune' })]);
    expect((await api(cp.apiUrl, 'GET', '/tenants/leaving/backups')).body.items).toHaveLength(1);
  });

  it('answers 404 for an unknown tenant, 409 for a deleted one and for one with an operation running', async () => {
    expect((await api(cp.apiUrl, 'DELETE', '/tenants/nobody-here')).status).toBe(404);
    await provision('twice');
    const first = await api(cp.apiUrl, 'DELETE', '/tenants/twice');
    const second = await api(cp.apiUrl, 'DELETE', '/tenants/twice');
    expect(second.status).toBe(409);
    expect(second.body.operationId).toBe(first.body.operationId);
    expect((await ended(first.body.operationId)).status).toBe('SUCCEEDED');
    const again = await api(cp.apiUrl, 'DELETE', '/tenants/twice');
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('is DELETED');
  });

  it.each(DEPROVISION_STEPS.map((state, i) => [state, i] as const))(
    'a failure of %s leaves the tenant DEPROVISION_FAILED naming the step; a second run finishes the job',
    async (state, i) => {
      const tenantId = `bye-${i}`;
      await provision(tenantId);
      for (const key of Object.keys(faults)) delete faults[key];
      // After its work (as when its answer is lost), but for the last step: after it, there is nothing left to fail.
      faults[state] = { when: state === 'MarkTenantDeleted' ? 'before' : 'after', error: new PermanentError(`injected: ${state} broke`) };

      const failed = await deprovision(tenantId);
      expect(failed.status).toBe('FAILED');
      expect((await api(cp.apiUrl, 'GET', `/tenants/${tenantId}`)).body).toMatchObject({
        status: 'DEPROVISION_FAILED',
        lastError: expect.stringContaining(`${state}: Hostplane.Permanent: injected`),
      });

      delete faults[state];
      const finished = await deprovision(tenantId);
      expect(finished.status).toBe('SUCCEEDED');
      expect((await api(cp.apiUrl, 'GET', `/tenants/${tenantId}`)).body).toMatchObject({ status: 'DELETED', lastError: null });
      expect(await tenantResidue(cp, tenantId)).toEqual([]);
    },
  );
});
