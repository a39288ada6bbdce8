import type { AppFilesPort } from '../ports/app-files.js';
import type { EdgePort } from '../ports/edge.js';
import type { SqlPort } from '../ports/sql.js';
import { describeCaughtError } from '../provision/workflow-input.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import { removeStagedSources } from './build-release.js';
import type { AwaitHealthyInput, DeployFailureInput } from './deploy-input.js';

/**
 * MarkDeployed: the deployment SUCCEEDED, the tenant's version is the release, and a deploy
 * operation of its own ends SUCCEEDED (a deploy started by provision leaves the operation to it).
 * Safe to run twice.
 */
export async function markDeployed(
  input: AwaitHealthyInput,
  sql: SqlPort,
  appFiles: AppFilesPort,
  edge: EdgePort,
): Promise<{ status: 'done'; releaseId: string }> {
  // Before the deployment says SUCCEEDED: from then on, every request reaches the new release.
  if (!input.published.unchanged) await edge.dropIdleConnections(input.deployment.names.hostLabel);
  const { deploymentId, tenantId } = input.deployment;
  const { releaseId } = input.published;
  await TenantRegistry.inTransaction(sql, async (registry) => {
    const deployments = new DeploymentRegistry(registry.executor);
    const ended = await deployments.finish(deploymentId, 'SUCCEEDED');
    await registry.setServing(tenantId, { version: releaseId });
    const operation = await registry.getOperation(input.operationId);
    if (operation?.kind === 'deploy') await registry.finishOperation(input.operationId, 'SUCCEEDED');
    if (ended) {
      const deployment = await deployments.require(deploymentId);
      await registry.audit({
        actor: deployment.requestedBy,
        action: `tenant.${deployment.kind}.succeeded`,
        tenantId,
        operationId: input.operationId,
        detail: { deploymentId, releaseId, previousReleaseId: deployment.previousReleaseId, migrations: deployment.migrations },
      });
    }
  });
  await removeStagedSources(appFiles, input.deployment.names.appFilesFolder).catch(() => undefined);
  return { status: 'done', releaseId };
}

/** The reason a deploy failed, for a person: the first failure, and what rolling back did. */
export function deployFailureReason(input: DeployFailureInput): string {
  const first = input.error ? describeCaughtError(input.error) : 'the deployment failed for an unknown reason';
  const rolledBack = input.rollback?.rolledBackTo ? `; rolled back to ${input.rollback.rolledBackTo}` : '';
  const rollbackFailed = input.rollbackError ? `; rolling back also failed (${describeCaughtError(input.rollbackError)})` : '';
  return `${first}${rolledBack}${rollbackFailed}`;
}

/** MarkDeploymentFailed: the deployment FAILED with the reason (and whether it was rolled back); a deploy operation of its own too. */
export async function markDeploymentFailed(input: DeployFailureInput, sql: SqlPort): Promise<{ status: 'done'; reason: string }> {
  const reason = deployFailureReason(input);
  await TenantRegistry.inTransaction(sql, async (registry) => {
    const deployments = new DeploymentRegistry(registry.executor);
    const deployment = await deployments.get(input.deploymentId);
    if (!deployment) return;
    const ended = await deployments.finish(input.deploymentId, 'FAILED', { error: reason, rolledBack: Boolean(input.rollback?.rolledBackTo) });
    const operation = await registry.getOperation(input.operationId);
    if (operation?.kind === 'deploy') await registry.finishOperation(input.operationId, 'FAILED', reason);
    if (ended) {
      await registry.audit({
        actor: deployment.requestedBy,
        action: `tenant.${deployment.kind}.failed`,
        tenantId: deployment.tenantId,
        operationId: input.operationId,
        detail: { deploymentId: input.deploymentId, reason, rolledBackTo: input.rollback?.rolledBackTo ?? null },
      });
    }
  });
  return { status: 'done', reason };
}
