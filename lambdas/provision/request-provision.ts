import { createHash, randomUUID } from 'node:crypto';
import { ConflictError, errorMessage, ValidationError } from '../domain/errors.js';
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

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,128}$/;

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
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new ValidationError('Idempotency-Key', 'must be 1-128 letters, digits or . _ : -');
  }
  const requestHash = createHash('sha256').update(JSON.stringify(request)).digest('hex');

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
