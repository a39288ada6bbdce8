import { rollBackDeployment, rollBackDeploymentAndFrontEnd } from '../deploy/activate-release.js';
import { errorMessage } from '../domain/errors.js';
import type { AppFilesPort } from '../ports/app-files.js';
import type { EdgePort } from '../ports/edge.js';
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
 *
 * A deployment cut off that way may have flipped `current` already: with the app files at hand,
 * its release is flipped back, as the machine's own RollBack would have (and, with the edge at
 * hand, the current release's front end published again).
 */
export async function closeEndedExecution(
  detail: ExecutionStatusDetail,
  sql: SqlPort,
  appFiles?: AppFilesPort,
  edge?: EdgePort,
): Promise<{ closed: boolean; rolledBack?: string[] }> {
  if (detail.status === 'RUNNING' || detail.status === 'SUCCEEDED') return { closed: false };
  const reason = `execution ${detail.status.toLowerCase().replace('_', ' ')}${detail.error ? `: ${detail.error}` : ''}${
    detail.cause ? ` (${detail.cause})` : ''
  }`;
  const cutOff: string[] = [];
  const closed = await TenantRegistry.inTransaction(sql, async (registry) => {
    const deployments = new DeploymentRegistry(registry.executor);
    // A deploy started by another machine (provision) is named after its deployment.
    if (detail.name.startsWith('dep-')) {
      const ended = await deployments.finish(detail.name, 'FAILED', { error: reason });
      if (ended) cutOff.push(detail.name);
      return { closed: ended };
    }
    const operation = await registry.getOperation(detail.name);
    if (!operation || !(await registry.finishOperation(operation.operationId, 'FAILED', reason))) return { closed: false };
    for (const deployment of await deployments.runningForOperation(operation.operationId)) {
      await deployments.finish(deployment.deploymentId, 'FAILED', { error: reason });
      cutOff.push(deployment.deploymentId);
    }
    const tenant = await registry.getTenant(operation.tenantId, { forUpdate: true });
    if (tenant && ['REQUESTED', 'PROVISIONING'].includes(tenant.status)) {
      await registry.transition(operation.tenantId, 'FAILED', { lastError: reason });
    } else if (tenant?.status === 'DEPROVISIONING') {
      await registry.transition(operation.tenantId, 'DEPROVISION_FAILED', { lastError: reason });
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
  if (!appFiles || cutOff.length === 0) return closed;
  return { ...closed, rolledBack: await rollBackCutOff(cutOff, sql, appFiles, edge) };
}

/** Flips back the releases of deployments that ended mid-way; a failure here is left for the next deploy or the doctor. */
async function rollBackCutOff(deploymentIds: readonly string[], sql: SqlPort, appFiles: AppFilesPort, edge: EdgePort | undefined): Promise<string[]> {
  const deployments = new DeploymentRegistry(sql);
  const rolledBack: string[] = [];
  for (const deploymentId of deploymentIds) {
    try {
      const deployment = await deployments.require(deploymentId);
      const tenant = await new TenantRegistry(sql).getTenant(deployment.tenantId);
      if (!tenant?.plan) continue;
      const { rolledBackTo } = edge
        ? await rollBackDeploymentAndFrontEnd(deploymentId, sql, appFiles, edge, tenant.plan.names)
        : await rollBackDeployment(deploymentId, sql, appFiles, tenant.plan.names.appFilesFolder);
      if (rolledBackTo) {
        await deployments.recordRolledBack(deploymentId, rolledBackTo);
        rolledBack.push(deploymentId);
      }
    } catch (error) {
      console.error(`deployment ${deploymentId}: could not roll back after its execution ended: ${errorMessage(error)}`);
    }
  }
  return rolledBack;
}
