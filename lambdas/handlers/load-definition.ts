import middy from '@middy/core';
import type { DeployExecutionInput, LoadedDeployment } from '../deploy/deploy-input.js';
import { loadDeployment } from '../deploy/load-deployment.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

export function loadDefinition(event: DeployExecutionInput): Promise<LoadedDeployment> {
  return loadDeployment(event, ports().sql);
}

export const handler = middy<DeployExecutionInput, LoadedDeployment>().use(trackStep('LoadDefinition')).handler(loadDefinition);
