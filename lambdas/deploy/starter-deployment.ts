import { parseAppDefinition } from '../app-definition/app-definition-schema.js';
import type { TenantPlan } from '../domain/tenant-plan.js';
import type { SqlPort } from '../ports/sql.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import { newDeploymentId } from './request-deployment.js';

/**
 * The app a new tenant serves until its owner deploys their own: notes, named after the tenant
 * (the same shape as `app-definition/examples/starter.json`).
 */
export function starterDefinition(displayName: string) {
  return {
    name: displayName,
    entities: [
      {
        name: 'note',
        fields: [
          { name: 'title', type: 'string', required: true },
          { name: 'body', type: 'text' },
        ],
      },
    ],
  };
}

/**
 * PrepareStarterApp (provision): records the starter deployment under the provision operation,
 * so the deploy machine it starts next finds it. A retry finds the one already recorded.
 */
export async function prepareStarterDeployment(
  input: { operationId: string; plan: TenantPlan },
  sql: SqlPort,
): Promise<{ deploymentId: string }> {
  return TenantRegistry.inTransaction(sql, async (registry) => {
    const deployments = new DeploymentRegistry(registry.executor);
    const running = await deployments.runningForOperation(input.operationId);
    if (running[0]) return { deploymentId: running[0].deploymentId };
    const operation = await registry.getOperation(input.operationId);
    const definition = starterDefinition(input.plan.displayName);
    const deployment = await deployments.insert({
      deploymentId: newDeploymentId(),
      tenantId: input.plan.tenantId,
      operationId: input.operationId,
      kind: 'deploy',
      app: parseAppDefinition(definition).name,
      definition,
      allowDestructive: false,
      requestedBy: operation?.requestedBy ?? 'hostplane',
    });
    return { deploymentId: deployment.deploymentId };
  });
}
