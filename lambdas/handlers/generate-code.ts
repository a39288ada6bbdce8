import middy from '@middy/core';
import { generateSources } from '../deploy/build-release.js';
import type { DeployStepInput, GeneratedSources } from '../deploy/deploy-input.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

export function generateCode(event: DeployStepInput): Promise<GeneratedSources> {
  const { sql, appFiles } = ports();
  return generateSources(event, sql, appFiles);
}

export const handler = middy<DeployStepInput, GeneratedSources>().use(trackStep('GenerateCode')).handler(generateCode);
