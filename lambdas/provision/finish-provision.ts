import { tenantIdSchema } from '../domain/tenant-id.js';
import { tenantResourceNames } from '../domain/naming.js';
import { tenantCacheIndex } from '../domain/tenant-plan.js';
import type { Ports } from '../ports/index.js';
import type { SqlPort } from '../ports/sql.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import { removeTenantResources, type RemovalReport } from './remove-tenant-resources.js';
import type { StepOutcome } from './step-outcome.js';
import { firstFailure, type PlannedStepInput, type ProvisionFailureInput } from './workflow-input.js';

/** The last step of a good run: the tenant is ACTIVE and the operation SUCCEEDED. A retry after success changes nothing. */
export async function markTenantActive(input: PlannedStepInput & { url?: string }, sql: SqlPort): Promise<StepOutcome> {
  await TenantRegistry.inTransaction(sql, async (registry) => {
    const done = await registry.getOperation(input.operationId);
    const tenant = await registry.getTenant(input.plan.tenantId, { forUpdate: true });
    if (done?.status === 'SUCCEEDED' && tenant?.status === 'ACTIVE') return;
    await registry.transition(input.plan.tenantId, 'ACTIVE', { lastError: null });
    await registry.finishOperation(input.operationId, 'SUCCEEDED');
    await registry.auditOperation(input.operationId, { action: 'tenant.provision.succeeded', tenantId: input.plan.tenantId, detail: { url: input.url ?? null } });
  });
  return { status: 'done', tenantStatus: 'ACTIVE' };
}

/**
 * Compensation: removes whatever the failed run made. Names come from the plan, or, when planning
 * itself failed, from the tenant's registry row; with neither there is nothing of the tenant to remove.
 */
export async function compensateProvision(
  input: ProvisionFailureInput,
  ports: Pick<Ports, 'sql' | 'secrets' | 'cacheUsers' | 'compute' | 'edge' | 'appFiles' | 'config'>,
): Promise<RemovalReport & { skipped?: string }> {
  // Only a run whose operation is still open may remove anything: an execution started again with
  // the input of an operation that already ended must never tear down the tenant that one made.
  const operation = await new TenantRegistry(ports.sql).getOperation(input.operationId);
  if (operation && operation.status !== 'RUNNING') {
    return { removed: [], skipped: `operation ${operation.operationId} already ended (${operation.status}), so nothing was removed` };
  }
  const names = input.plan?.names ?? (await namesFromRegistry(input, ports));
  if (!names) return { removed: [], skipped: 'the tenant was never planned, so nothing of it exists' };
  // Planning failed before it chose a cache: no cache user was made, and cache 0 finds none to remove.
  return removeTenantResources({ names, cache: input.plan ? tenantCacheIndex(input.plan) : 0 }, ports);
}

async function namesFromRegistry(input: ProvisionFailureInput, ports: Pick<Ports, 'sql' | 'config'>) {
  const operation = await new TenantRegistry(ports.sql).getOperation(input.operationId);
  if (!operation) return undefined;
  const tenant = await new TenantRegistry(ports.sql).getTenant(operation.tenantId);
  const tenantId = tenantIdSchema.safeParse(operation.tenantId);
  if (!tenant?.cell || !tenantId.success) return undefined;
  return tenantResourceNames({ environment: ports.config.environment, cell: tenant.cell }, tenantId.data);
}

/** The end of a failed run: the tenant is FAILED with the reason, the operation FAILED. */
export async function markProvisionFailed(input: ProvisionFailureInput, sql: SqlPort): Promise<StepOutcome> {
  const reason = firstFailure(input);
  await TenantRegistry.inTransaction(sql, async (registry) => {
    const operation = await registry.getOperation(input.operationId);
    // An operation that already ended (a run started again with its input) is left as it ended.
    if (operation?.status !== 'RUNNING') return;
    const tenant = await registry.getTenant(operation.tenantId, { forUpdate: true });
    if (tenant && tenant.status !== 'FAILED') {
      await registry.transition(operation.tenantId, 'FAILED', { lastError: reason });
    }
    await registry.finishOperation(input.operationId, 'FAILED', reason);
    await registry.audit({
      actor: operation.requestedBy,
      action: 'tenant.provision.failed',
      tenantId: operation.tenantId,
      operationId: input.operationId,
      detail: { reason },
    });
  });
  return { status: 'done', tenantStatus: 'FAILED', reason };
}
