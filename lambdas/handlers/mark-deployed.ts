import middy from '@middy/core';
import type { AwaitHealthyInput } from '../deploy/deploy-input.js';
import { markDeployed as finish } from '../deploy/finish-deployment.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type Deployed = Awaited<ReturnType<typeof finish>>;

export function markDeployed(event: AwaitHealthyInput): Promise<Deployed> {
  const { sql, appFiles, edge } = ports();
  return finish(event, sql, appFiles, edge);
}

export const handler = middy<AwaitHealthyInput, Deployed>().use(trackStep('MarkDeployed')).handler(markDeployed);
