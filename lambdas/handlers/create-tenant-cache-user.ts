import middy from '@middy/core';
import { tenantCacheIndex } from '../domain/tenant-plan.js';
import { trackStep } from '../middleware/track-step.js';
import { cacheOf } from '../ports/cache-users.js';
import { ports } from '../ports/index.js';
import type { StepOutcome } from '../provision/step-outcome.js';
import { ensureTenantCacheUser } from '../provision/tenant-cache-user.js';
import type { PlannedStepInput } from '../provision/workflow-input.js';

export function createTenantCacheUser(event: PlannedStepInput): Promise<StepOutcome> {
  const { cacheUsers, secrets } = ports();
  return ensureTenantCacheUser(event.plan, cacheOf(cacheUsers, tenantCacheIndex(event.plan)), secrets);
}

export const handler = middy<PlannedStepInput, StepOutcome>().use(trackStep('CreateTenantCacheUser')).handler(createTenantCacheUser);
