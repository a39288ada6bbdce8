import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PermanentError, TransientError } from '../../lambdas/domain/errors.js';
import type { InjectedFault } from '../../local/adapters/local-workflows.js';
import { api, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { pollUntil } from '../support/poll.js';
import { tenantResidue } from '../support/residue.js';

/**
 * Each provision step is made to fail in turn. A step that fails "after" did its work first (its
 * resource exists), so compensation has something real to remove.
 */
const CASES: [state: string, fault: InjectedFault][] = [
  ['ValidateTenantRequest', { when: 'after', error: new PermanentError('injected: planning broke') }],
  ['CreateTenantDatabase', { when: 'after', error: new PermanentError('injected: database step broke') }],
  ['CreateTenantCacheUser', { when: 'after', error: new PermanentError('injected: cache step broke') }],
  ['CreateStaticAssets', { when: 'after', error: new PermanentError('injected: assets step broke') }],
  ['StartTenantCompute', { when: 'after', error: new PermanentError('injected: compute step broke') }],
  ['PrepareStarterApp', { when: 'after', error: new PermanentError('injected: starter app step broke') }],
  // Inside the deploy machine that provision starts and waits for: its failure fails the provision.
  ['Compile', { when: 'before', error: new PermanentError('injected: compile broke') }],
  ['AwaitHealthy', { when: 'before', error: new PermanentError('injected: health never came') }],
  ['RegisterTenantRoute', { when: 'after', error: new PermanentError('injected: route step broke') }],
  ['MarkTenantActive', { when: 'before', error: new PermanentError('injected: marking broke') }],
  ['CreateTenantDatabase', { when: 'before', error: new TransientError('injected: database unreachable') }],
];

describe('provision failure handling', () => {
  const faults: Record<string, InjectedFault> = {};
  let cp: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane({ faults });
  });

  afterAll(async () => {
    await cp?.destroy();
  });

  it.each(CASES.map(([state, fault], i) => [state, fault.when, fault.error.name, i] as const))(
    'a failure of %s (%s its work, %s) leaves the tenant FAILED and nothing of it behind',
    async (state, _when, errorName, i) => {
      const tenantId = `fail-${i}`;
      for (const key of Object.keys(faults)) delete faults[key];
      faults[state] = CASES[i]![1];

      const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId });
      expect(created.status).toBe(202);
      const operation = await pollUntil(
        async () => {
          const { body } = await api(cp.apiUrl, 'GET', `/operations/${String(created.body.operationId)}`);
          return body.status === 'RUNNING' ? undefined : body;
        },
        { timeoutMs: 30_000, what: 'the operation to end' },
      );

      expect(operation.status).toBe('FAILED');
      expect(operation.error).toContain(`${errorName}: injected`);
      const tenant = await api(cp.apiUrl, 'GET', `/tenants/${tenantId}`);
      expect(tenant.body).toMatchObject({ status: 'FAILED', lastError: expect.stringContaining('injected') });
      const states = (operation.states as { state: string }[]).map((s) => s.state);
      expect(states).toContain('CompensateProvision');
      expect(states.at(-1)).toBe('MarkProvisionFailed');
      expect(await tenantResidue(cp, tenantId)).toEqual([]);
    },
  );

  it('provisions a FAILED tenant again once the fault is gone', async () => {
    for (const key of Object.keys(faults)) delete faults[key];
    const again = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'fail-1' });
    expect(again.status).toBe(202);
    const operation = await pollUntil(
      async () => {
        const { body } = await api(cp.apiUrl, 'GET', `/operations/${String(again.body.operationId)}`);
        return body.status === 'RUNNING' ? undefined : body;
      },
      { timeoutMs: 30_000, what: 'the retry to end' },
    );
    expect(operation.status).toBe('SUCCEEDED');
    expect((await api(cp.apiUrl, 'GET', '/tenants/fail-1')).body).toMatchObject({ status: 'ACTIVE', lastError: null });
  });
});
