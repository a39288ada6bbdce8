import { parseAppDefinition, type AppDefinition } from '../app-definition/app-definition-schema.js';
import { ConflictError, PermanentError } from '../domain/errors.js';
import { tenantCacheIndex } from '../domain/tenant-plan.js';
import type { SqlPort } from '../ports/sql.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import type { DeployExecutionInput, LoadedDeployment } from './deploy-input.js';

/**
 * LoadDefinition: finds the deployment the execution was started for, checks it is still running
 * and its definition still valid, and gathers what every later step needs (the tenant's names).
 */
export async function loadDeployment(input: DeployExecutionInput, sql: SqlPort): Promise<LoadedDeployment> {
  const deployment = await new DeploymentRegistry(sql).require(input.deploymentId);
  if (deployment.operationId !== input.operationId) {
    throw new PermanentError(`deployment ${input.deploymentId} belongs to operation ${deployment.operationId}, not ${input.operationId}`);
  }
  if (deployment.status !== 'RUNNING') throw new ConflictError(`deployment ${input.deploymentId} has already ended (${deployment.status})`);
  const tenant = await new TenantRegistry(sql).requireTenant(deployment.tenantId);
  if (!tenant.plan) throw new PermanentError(`tenant ${tenant.tenantId} has no plan: it was never provisioned`);
  const definition = parseAppDefinition(deployment.definition);
  return {
    deploymentId: deployment.deploymentId,
    tenantId: deployment.tenantId,
    kind: deployment.kind,
    app: definition.name,
    allowDestructive: deployment.allowDestructive,
    names: tenant.plan.names,
    cache: tenantCacheIndex(tenant.plan),
  };
}

/** The validated definition of a deployment (kept in the registry, not in the state: it may be large). */
export async function definitionOf(sql: SqlPort, deploymentId: string): Promise<AppDefinition> {
  return parseAppDefinition((await new DeploymentRegistry(sql).require(deploymentId)).definition);
}
