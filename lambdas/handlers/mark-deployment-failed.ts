import middy from '@middy/core';
import type { DeployFailureInput } from '../deploy/deploy-input.js';
import { markDeploymentFailed as finish } from '../deploy/finish-deployment.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type Failed = Awaited<ReturnType<typeof finish>>;

export function markDeploymentFailed(event: DeployFailureInput): Promise<Failed> {
  return finish(event, ports().sql);
}

export const handler = middy<DeployFailureInput, Failed>().use(trackStep('MarkDeploymentFailed')).handler(markDeploymentFailed);
