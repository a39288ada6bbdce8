import type { OperationRecord, StepRecord, TenantRecord } from '../registry/records.js';

/** A tenant as the API shows it. */
export function tenantView(tenant: TenantRecord) {
  return {
    tenantId: tenant.tenantId,
    displayName: tenant.displayName,
    tier: tenant.tier,
    cell: tenant.cell,
    status: tenant.status,
    url: tenant.url,
    version: tenant.version,
    lastError: tenant.lastError,
    createdAt: tenant.createdAt,
    updatedAt: tenant.updatedAt,
  };
}

/** An operation and the states it has passed so far. */
export function operationView(operation: OperationRecord, steps?: readonly StepRecord[]) {
  return {
    operationId: operation.operationId,
    tenantId: operation.tenantId,
    kind: operation.kind,
    status: operation.status,
    currentState: operation.currentState,
    error: operation.error,
    requestedBy: operation.requestedBy,
    startedAt: operation.startedAt,
    endedAt: operation.endedAt,
    links: { self: `/operations/${operation.operationId}`, tenant: `/tenants/${operation.tenantId}` },
    ...(steps
      ? {
          states: steps.map((step) => ({
            state: step.state,
            status: step.status,
            detail: step.detail,
            error: step.error,
            startedAt: step.startedAt,
            endedAt: step.endedAt,
          })),
        }
      : {}),
  };
}
