import middy from '@middy/core';
import { prepareStarterDeployment } from '../deploy/starter-deployment.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import type { PlannedStepInput } from '../provision/workflow-input.js';

export function prepareStarterApp(event: PlannedStepInput): Promise<{ deploymentId: string }> {
  return prepareStarterDeployment(event, ports().sql);
}

export const handler = middy<PlannedStepInput, { deploymentId: string }>().use(trackStep('PrepareStarterApp')).handler(prepareStarterApp);
