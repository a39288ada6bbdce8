import type { SqlPort } from '../ports/sql.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';
import { TenantRegistry } from '../registry/tenant-registry.js';

/** The detail of EventBridge's "Step Functions Execution Status Change" event (the fields we read). */
export interface ExecutionStatusDetail {
  readonly name: string;
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  readonly error?: string | null;
  readonly cause?: string | null;
}

/**
 * When an execution ends without its own steps closing the operation (aborted, timed out, or an
 * engine error before any Catch), the operation and tenant must not stay RUNNING / PROVISIONING
 * forever. The operation id is the execution name. Closing twice changes nothing.
 */
export async function closeEndedExecution(detail: ExecutionStatusDetail, sql: SqlPort): Promise<{ closed: boolean }> {
  if (detail.status === 'RUNNING' || detail.status === 'SUCCEEDED') return { closed: false };
  const reason = `execution ${detail.status.toLowerCase().replace('_', ' ')}${detail.error ? `: ${detail.error}` : ''}${
    detail.cause ? ` (${detail.cause})` : ''
  }`;
  return TenantRegistry.inTransaction(sql, async (registry) => {
    const deployments = new DeploymentRegistry(registry.executor);
    // A deploy started by another machine (provision) is named after its deployment.
    if (detail.name.startsWith('dep-')) return { closed: await deployments.finish(detail.name, 'FAILED', { error: reason }) };
    const operation = await registry.getOperation(detail.name);
    if (!operation || !(await registry.finishOperation(operation.operationId, 'FAILED', reason))) return { closed: false };
    for (const deployment of await deployments.runningForOperation(operation.operationId)) {
      await deployments.finish(deployment.deploymentId, 'FAILED', { error: reason });
    }
    const tenant = await registry.getTenant(operation.tenantId, { forUpdate: true });
    if (tenant && ['REQUESTED', 'PROVISIONING', 'DEPROVISIONING'].includes(tenant.status)) {
      await registry.transition(operation.tenantId, 'FAILED', { lastError: reason });
    }
    await registry.audit({
      actor: 'hostplane',
      action: `tenant.${operation.kind}.failed`,
      tenantId: operation.tenantId,
      operationId: operation.operationId,
      detail: { reason },
    });
    return { closed: true };
  });
}
