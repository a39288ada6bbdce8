import middy from '@middy/core';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import type { StepOutcome } from '../provision/step-outcome.js';
import type { PlannedStepInput } from '../provision/workflow-input.js';

export async function createStaticAssets(event: PlannedStepInput): Promise<StepOutcome> {
  const { edge, appFiles } = ports();
  await edge.ensureStaticAssets(event.plan.names.assetsBucket);
  await appFiles.ensureFolder(event.plan.names.appFilesFolder);
  return { status: 'created', assetsBucket: event.plan.names.assetsBucket, appFilesFolder: event.plan.names.appFilesFolder };
}

export const handler = middy<PlannedStepInput, StepOutcome>().use(trackStep('CreateStaticAssets')).handler(createStaticAssets);
