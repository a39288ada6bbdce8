import middy from '@middy/core';
import type { DeployStepInput, PlannedMigration } from '../deploy/deploy-input.js';
import { planDeploymentMigrations } from '../deploy/migrate-tenant.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

export function planMigrations(event: DeployStepInput): Promise<PlannedMigration> {
  return planDeploymentMigrations(event, ports().sql);
}

export const handler = middy<DeployStepInput, PlannedMigration>().use(trackStep('PlanMigrations')).handler(planMigrations);
