import middy from '@middy/core';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import type { StepOutcome } from '../provision/step-outcome.js';
import { computeSpecFor } from '../provision/tenant-compute.js';
import type { PlannedStepInput } from '../provision/workflow-input.js';

export async function startTenantCompute(event: PlannedStepInput): Promise<StepOutcome> {
  const service = await ports().compute.ensureService(computeSpecFor(event.plan));
  return { status: 'created', serviceName: service.serviceName, endpoint: service.endpoint };
}

export const handler = middy<PlannedStepInput, StepOutcome>().use(trackStep('StartTenantCompute')).handler(startTenantCompute);
