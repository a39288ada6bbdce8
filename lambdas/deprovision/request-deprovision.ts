import { randomUUID } from 'node:crypto';
import { ConflictError, errorMessage } from '../domain/errors.js';
import { checkIdempotencyKey, requestHashOf } from '../domain/idempotency.js';
import { tenantIdSchema } from '../domain/tenant-id.js';
import { parseOrThrow } from '../domain/validation.js';
import type { SqlPort } from '../ports/sql.js';
import type { WorkflowsPort } from '../ports/workflows.js';
import type { OperationRecord } from '../registry/records.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import type { DeprovisionExecutionInput } from './deprovision-input.js';

/** What may be deprovisioned: a tenant that serves, one that failed to provision, or one whose deprovision failed. */
const REMOVABLE = new Set(['ACTIVE', 'FAILED', 'DEPROVISION_FAILED']);

/**
 * What `DELETE /tenants/{id}` does: records a running deprovision operation (the tenant's lock)
 * and starts the deprovision state machine. A repeated Idempotency-Key returns the first operation.
 */
export async function requestDeprovision(
  tenantIdParam: string,
  options: { idempotencyKey?: string; requestedBy: string },
  sql: SqlPort,
  workflows: WorkflowsPort,
): Promise<{ operation: OperationRecord; created: boolean }> {
  const tenantId = parseOrThrow(tenantIdSchema, tenantIdParam, 'id');
  const { idempotencyKey, requestedBy } = options;
  checkIdempotencyKey(idempotencyKey);
  const requestHash = requestHashOf({ deprovision: tenantId });
  const earlier = await new TenantRegistry(sql).replayedOperation(idempotencyKey, requestHash);
  if (earlier) return { operation: earlier, created: false };

  const input: DeprovisionExecutionInput = { operationId: `op-${randomUUID()}`, tenantId, requestedBy };
  const operation = await TenantRegistry.inTransaction(sql, async (registry) => {
    const tenant = await registry.requireTenant(tenantId);
    const running = await registry.runningOperation(tenantId);
    if (running) {
      throw new ConflictError(`tenant ${tenantId} already has a ${running.kind} operation running`, { operationId: running.operationId });
    }
    if (!REMOVABLE.has(tenant.status)) {
      throw new ConflictError(`tenant ${tenantId} is ${tenant.status} and cannot be deprovisioned`, { tenantId, status: tenant.status });
    }
    const recorded = await registry.insertOperation({
      operationId: input.operationId,
      tenantId,
      kind: 'deprovision',
      input,
      requestedBy,
      idempotencyKey,
      requestHash,
    });
    await registry.audit({ actor: requestedBy, action: 'tenant.deprovision.requested', tenantId, operationId: input.operationId });
    return recorded;
  });

  try {
    const { executionId } = await workflows.start('deprovision', operation.operationId, { ...input });
    await new TenantRegistry(sql).setExecution(operation.operationId, executionId);
  } catch (error) {
    await new TenantRegistry(sql).finishOperation(operation.operationId, 'FAILED', `the deprovision state machine could not be started: ${errorMessage(error)}`);
    throw error;
  }
  return { operation, created: true };
}
