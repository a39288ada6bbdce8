import middy from '@middy/core';
import { compileRelease } from '../deploy/build-release.js';
import type { CompiledRelease, DeployStepInput, GeneratedSources } from '../deploy/deploy-input.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type CompileInput = DeployStepInput & { generated: GeneratedSources };

export function compile(event: CompileInput): Promise<CompiledRelease> {
  const { sql, appFiles } = ports();
  return compileRelease(event, sql, appFiles);
}

export const handler = middy<CompileInput, CompiledRelease>().use(trackStep('Compile')).handler(compile);
