import middy from '@middy/core';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import { markTenantActive as markActive } from '../provision/finish-provision.js';
import type { StepOutcome } from '../provision/step-outcome.js';
import type { PlannedStepInput } from '../provision/workflow-input.js';

export function markTenantActive(event: PlannedStepInput & { url?: string }): Promise<StepOutcome> {
  return markActive(event, ports().sql);
}

export const handler = middy<PlannedStepInput & { url?: string }, StepOutcome>().use(trackStep('MarkTenantActive')).handler(markTenantActive);
