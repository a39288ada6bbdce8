import middy from '@middy/core';
import type { MigrationPlan } from '../app-definition/migration-plan.js';
import type { DeployStepInput } from '../deploy/deploy-input.js';
import { planDeploymentMigrations } from '../deploy/migrate-tenant.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

export function planMigrations(event: DeployStepInput): Promise<MigrationPlan> {
  return planDeploymentMigrations(event, ports().sql);
}

export const handler = middy<DeployStepInput, MigrationPlan>().use(trackStep('PlanMigrations')).handler(planMigrations);
