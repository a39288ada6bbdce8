import { ConflictError } from '../domain/errors.js';
import { tenantResourceNames } from '../domain/naming.js';
import { tenantIdSchema } from '../domain/tenant-id.js';
import { tenantCacheIndex } from '../domain/tenant-plan.js';
import type { SqlPort } from '../ports/sql.js';
import { TENANT_RESOURCE_REMOVALS, type RemovableResource, type RemovalPorts } from '../provision/remove-tenant-resources.js';
import { describeCaughtError } from '../provision/workflow-input.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import type { DeprovisionExecutionInput, DeprovisionFailureInput, DeprovisionTarget, RemovalStepInput } from './deprovision-input.js';

/** MarkDeprovisioning: the tenant becomes DEPROVISIONING (a retry finds it so already) and its resource names are gathered. */
export async function markDeprovisioning(input: DeprovisionExecutionInput, sql: SqlPort, environment: string): Promise<DeprovisionTarget> {
  return TenantRegistry.inTransaction(sql, async (registry) => {
    const tenant = await registry.requireTenant(input.tenantId);
    const operation = await registry.getOperation(input.operationId);
    const alreadyDone = operation?.status === 'SUCCEEDED' && tenant.status === 'DELETED';
    if (operation && operation.status !== 'RUNNING' && !alreadyDone) {
      // The input of an operation that ended: the tenant may have been provisioned again since.
      throw new ConflictError(`operation ${input.operationId} already ended (${operation.status}); nothing of ${input.tenantId} is removed`, {
        operationId: input.operationId,
      });
    }
    // Run again after it succeeded: every removal finds nothing, and the tenant stays DELETED.
    if (!alreadyDone && tenant.status !== 'DEPROVISIONING') await registry.transition(input.tenantId, 'DEPROVISIONING', { lastError: null });
    const tenantId = tenantIdSchema.parse(input.tenantId);
    const names = tenant.plan?.names ?? (tenant.cell ? tenantResourceNames({ environment, cell: tenant.cell }, tenantId) : null);
    return { tenantId, names, cache: tenant.plan ? tenantCacheIndex(tenant.plan) : 0 };
  });
}

/** One removal step of the deprovision machine. Nothing there is not a failure: the step says so. */
export async function removeTenantResource(
  resource: RemovableResource,
  input: RemovalStepInput,
  ports: RemovalPorts,
): Promise<{ status: 'removed' | 'skipped'; skipped?: string }> {
  const { names } = input.tenant;
  if (!names) return { status: 'skipped', skipped: 'the tenant was never planned, so it has no resources' };
  return (await TENANT_RESOURCE_REMOVALS[resource]({ names, cache: input.tenant.cache ?? 0 }, ports)) ? { status: 'removed' } : { status: 'skipped', skipped: `no ${resource} (already gone)` };
}

/** MarkTenantDeleted: the tenant is DELETED (its id free again), the operation SUCCEEDED. A retry changes nothing. */
export async function markTenantDeleted(input: RemovalStepInput, sql: SqlPort): Promise<{ status: 'done' }> {
  await TenantRegistry.inTransaction(sql, async (registry) => {
    const tenant = await registry.requireTenant(input.tenant.tenantId);
    if (tenant.status !== 'DELETED') await registry.transition(input.tenant.tenantId, 'DELETED', { lastError: null });
    await registry.clearServing(input.tenant.tenantId);
    if (await registry.finishOperation(input.operationId, 'SUCCEEDED')) {
      await registry.auditOperation(input.operationId, { action: 'tenant.deprovision.succeeded', tenantId: input.tenant.tenantId });
    }
  });
  return { status: 'done' };
}

/** MarkDeprovisionFailed: the tenant is DEPROVISION_FAILED with the step that failed and why; running deprovision again finishes the job. */
export async function markDeprovisionFailed(input: DeprovisionFailureInput, sql: SqlPort): Promise<{ status: 'done'; reason: string }> {
  const why = input.error ? describeCaughtError(input.error) : 'unknown error';
  const reason = input.failedState ? `${input.failedState}: ${why}` : why;
  await TenantRegistry.inTransaction(sql, async (tx) => {
    const tenant = await tx.getTenant(input.tenantId, { forUpdate: true });
    if (tenant?.status === 'DEPROVISIONING') await tx.transition(input.tenantId, 'DEPROVISION_FAILED', { lastError: reason });
    if (await tx.finishOperation(input.operationId, 'FAILED', reason)) {
      await tx.audit({ actor: 'hostplane', action: 'tenant.deprovision.failed', tenantId: input.tenantId, operationId: input.operationId, detail: { reason } });
    }
  });
  return { status: 'done', reason };
}
