import { definitionFingerprint } from '../app-definition/migration-plan.js';
import { ConflictError } from '../domain/errors.js';
import type { SecretsPort } from '../ports/secrets.js';
import type { SqlPort } from '../ports/sql.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';
import { applyMigrations, type MigrationResult } from './apply-migrations.js';
import type { DeployStepInput, MigrateInput, PlannedMigration } from './deploy-input.js';
import { definitionOf } from './load-deployment.js';
import { deployedDefinition, planTenantMigration } from './tenant-schema.js';

/** Summaries beyond this many are counted, not listed, in the state (a state's payload is limited to 256 KB). */
const SHOWN_SUMMARIES = 50;

/**
 * PlanMigrations: the diff from the tenant's schema to the definition; destructive changes refused
 * unless allowed. The state carries what was planned (fingerprints, step count, summaries), not the
 * SQL: a first deploy of a large definition plans more statements than a state may hold.
 */
export async function planDeploymentMigrations(input: DeployStepInput, sql: SqlPort): Promise<PlannedMigration> {
  const definition = await definitionOf(sql, input.deployment.deploymentId);
  const plan = await planTenantMigration(sql, input.deployment.names, definition, { allowDestructive: input.deployment.allowDestructive });
  const summaries = plan.steps.map((step) => step.summary);
  return {
    from: plan.from,
    to: plan.to,
    steps: plan.steps.length,
    destructive: plan.destructive,
    summaries: summaries.length > SHOWN_SUMMARIES ? [...summaries.slice(0, SHOWN_SUMMARIES), `… and ${summaries.length - SHOWN_SUMMARIES} more`] : summaries,
  };
}

/**
 * Migrate: plans again (the planner is pure, so the same inputs give the same steps), checks it is
 * the plan PlanMigrations made, and applies it in one transaction on the tenant's own login (read
 * from its secret), each step recorded so a retry never applies one twice.
 */
export async function migrateTenantDatabase(input: MigrateInput, sql: SqlPort, secrets: SecretsPort): Promise<MigrationResult & { summaries: string[] }> {
  const { names, deploymentId, allowDestructive } = input.deployment;
  const definition = await definitionOf(sql, deploymentId);
  const deployed = await deployedDefinition(sql, names);
  // A retry after the commit: the schema is where this deployment wanted it.
  if (deployed && definitionFingerprint(deployed) === input.migrations.to) return { applied: [], alreadyApplied: [], summaries: [] };
  const plan = await planTenantMigration(sql, names, definition, { allowDestructive });
  if (plan.from !== input.migrations.from || plan.to !== input.migrations.to) {
    throw new ConflictError('the tenant schema changed since PlanMigrations ran; deploy again to plan from where it is now');
  }
  const result = await applyMigrations(sql, secrets, names, plan, { definition });
  const applied = new Set(result.applied);
  const summaries = plan.steps.filter((step) => applied.has(step.id)).map((step) => step.summary);
  if (summaries.length) await new DeploymentRegistry(sql).recordMigrations(deploymentId, summaries);
  return { ...result, summaries };
}
