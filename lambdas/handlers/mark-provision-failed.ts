import middy from '@middy/core';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import { markProvisionFailed as markFailed } from '../provision/finish-provision.js';
import type { StepOutcome } from '../provision/step-outcome.js';
import type { ProvisionFailureInput } from '../provision/workflow-input.js';

export function markProvisionFailed(event: ProvisionFailureInput): Promise<StepOutcome> {
  return markFailed(event, ports().sql);
}

export const handler = middy<ProvisionFailureInput, StepOutcome>().use(trackStep('MarkProvisionFailed')).handler(markProvisionFailed);
