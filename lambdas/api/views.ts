import type { DeploymentRecord } from '../registry/deployment-registry.js';
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
    result: operation.result,
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

/** A deployment as the API shows it (the definition itself only when asked for one deployment). */
export function deploymentView(deployment: DeploymentRecord, { withDefinition = false } = {}) {
  return {
    deploymentId: deployment.deploymentId,
    tenantId: deployment.tenantId,
    operationId: deployment.operationId,
    kind: deployment.kind,
    status: deployment.status,
    app: deployment.app,
    releaseId: deployment.releaseId,
    previousReleaseId: deployment.previousReleaseId,
    rollbackOf: deployment.rollbackOf,
    rolledBack: deployment.rolledBack,
    allowDestructive: deployment.allowDestructive,
    migrations: deployment.migrations,
    error: deployment.error,
    requestedBy: deployment.requestedBy,
    startedAt: deployment.startedAt,
    endedAt: deployment.endedAt,
    ...(withDefinition ? { definition: deployment.definition } : {}),
    links: {
      self: `/tenants/${deployment.tenantId}/deployments/${deployment.deploymentId}`,
      operation: `/operations/${deployment.operationId}`,
      tenant: `/tenants/${deployment.tenantId}`,
    },
  };
}
