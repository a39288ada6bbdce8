import { randomUUID } from 'node:crypto';
import { ConflictError, errorMessage } from '../domain/errors.js';
import { checkIdempotencyKey, requestHashOf } from '../domain/idempotency.js';
import { parseProvisionRequest, type ProvisionRequest } from '../domain/tenant-plan.js';
import type { SqlPort } from '../ports/sql.js';
import type { WorkflowsPort } from '../ports/workflows.js';
import type { OperationRecord } from '../registry/records.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import type { ProvisionExecutionInput } from './workflow-input.js';

export interface ProvisionRequested {
  readonly operation: OperationRecord;
  /** False when an Idempotency-Key replay returned the operation of the first request. */
  readonly created: boolean;
}


/**
 * What `POST /tenants` does: validates the request, records the tenant (REQUESTED) and a running
 * provision operation in one transaction, the operation row being the tenant's lock, then starts
 * the provision state machine. A repeated Idempotency-Key returns the first request's operation.
 */
export async function requestProvision(
  body: unknown,
  options: { idempotencyKey?: string; requestedBy: string },
  sql: SqlPort,
  workflows: WorkflowsPort,
): Promise<ProvisionRequested> {
  const request = parseProvisionRequest(body);
  const { idempotencyKey, requestedBy } = options;
  checkIdempotencyKey(idempotencyKey);
  const requestHash = requestHashOf(request);

  if (idempotencyKey) {
    const earlier = await new TenantRegistry(sql).findOperationByIdempotencyKey(idempotencyKey);
    if (earlier) return replay(earlier, requestHash);
  }

  const input: ProvisionExecutionInput = { operationId: `op-${randomUUID()}`, request, requestedBy };
  let operation: OperationRecord;
  try {
    operation = await TenantRegistry.inTransaction(sql, (registry) =>
      recordRequest(registry, request, input, { idempotencyKey, requestHash, requestedBy }),
    );
  } catch (error) {
    // Two requests with the same key at once: the loser replays the winner.
    if (error instanceof ConflictError && idempotencyKey) {
      const earlier = await new TenantRegistry(sql).findOperationByIdempotencyKey(idempotencyKey);
      if (earlier) return replay(earlier, requestHash);
    }
    throw error;
  }

  try {
    const { executionId } = await workflows.start('provision', operation.operationId, { ...input });
    await new TenantRegistry(sql).setExecution(operation.operationId, executionId);
  } catch (error) {
    const reason = `the provision state machine could not be started: ${errorMessage(error)}`;
    await TenantRegistry.inTransaction(sql, async (registry) => {
      await registry.finishOperation(operation.operationId, 'FAILED', reason);
      await registry.transition(request.tenantId, 'FAILED', { lastError: reason });
    });
    throw error;
  }
  return { operation, created: true };
}

async function recordRequest(
  registry: TenantRegistry,
  request: ProvisionRequest,
  input: ProvisionExecutionInput,
  meta: { idempotencyKey?: string; requestHash: string; requestedBy: string },
): Promise<OperationRecord> {
  const tenant = await registry.getTenant(request.tenantId, { forUpdate: true });
  const displayName = request.displayName ?? request.tenantId;
  if (!tenant) {
    await registry.insertTenant({ tenantId: request.tenantId, displayName, tier: request.tier, status: 'REQUESTED' });
  } else if (tenant.status === 'DELETED') {
    await registry.transition(request.tenantId, 'REQUESTED', { displayName, tier: request.tier, lastError: null });
  } else if (tenant.status !== 'FAILED') {
    const running = await registry.runningOperation(request.tenantId);
    if (running) {
      throw new ConflictError(`tenant ${request.tenantId} already has a ${running.kind} operation running`, {
        operationId: running.operationId,
      });
    }
    throw new ConflictError(`tenant ${request.tenantId} already exists and is ${tenant.status}`, {
      tenantId: request.tenantId,
      status: tenant.status,
    });
  }
  const operation = await registry.insertOperation({
    operationId: input.operationId,
    tenantId: request.tenantId,
    kind: 'provision',
    input,
    requestedBy: meta.requestedBy,
    idempotencyKey: meta.idempotencyKey,
    requestHash: meta.requestHash,
  });
  await registry.audit({
    actor: meta.requestedBy,
    action: 'tenant.provision.requested',
    tenantId: request.tenantId,
    operationId: operation.operationId,
    detail: { tier: request.tier },
  });
  return operation;
}

function replay(earlier: OperationRecord, requestHash: string): ProvisionRequested {
  if (earlier.requestHash !== requestHash) {
    throw new ConflictError('this Idempotency-Key was used before with a different request', {
      operationId: earlier.operationId,
    });
  }
  return { operation: earlier, created: false };
}
