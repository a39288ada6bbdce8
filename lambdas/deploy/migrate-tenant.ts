import type { MigrationPlan } from '../app-definition/migration-plan.js';
import type { SqlPort } from '../ports/sql.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';
import { applyMigrations, type MigrationResult } from './apply-migrations.js';
import type { DeployStepInput, MigrateInput } from './deploy-input.js';
import { definitionOf } from './load-deployment.js';
import { planTenantMigration } from './tenant-schema.js';

/** PlanMigrations: the diff from the tenant's schema to the definition; destructive changes refused unless allowed. */
export async function planDeploymentMigrations(input: DeployStepInput, sql: SqlPort): Promise<MigrationPlan> {
  const definition = await definitionOf(sql, input.deployment.deploymentId);
  return planTenantMigration(sql, input.deployment.names, definition, { allowDestructive: input.deployment.allowDestructive });
}

/** Migrate: the plan applied in one transaction as the tenant's role, each step recorded so a retry never applies one twice. */
export async function migrateTenantDatabase(input: MigrateInput, sql: SqlPort): Promise<MigrationResult & { summaries: string[] }> {
  const definition = await definitionOf(sql, input.deployment.deploymentId);
  const result = await applyMigrations(sql, input.deployment.names, input.migrations, { definition });
  const applied = new Set(result.applied);
  const summaries = input.migrations.steps.filter((step) => applied.has(step.id)).map((step) => step.summary);
  if (summaries.length) await new DeploymentRegistry(sql).recordMigrations(input.deployment.deploymentId, summaries);
  return { ...result, summaries };
}
