import middy from '@middy/core';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import type { StepOutcome } from '../provision/step-outcome.js';
import { ensureTenantDatabase } from '../provision/tenant-database.js';
import type { PlannedStepInput } from '../provision/workflow-input.js';

export function createTenantDatabase(event: PlannedStepInput): Promise<StepOutcome> {
  const { sql, secrets, config } = ports();
  return ensureTenantDatabase(event.plan, sql, secrets, config);
}

export const handler = middy<PlannedStepInput, StepOutcome>().use(trackStep('CreateTenantDatabase')).handler(createTenantDatabase);
