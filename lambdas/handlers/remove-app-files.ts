import middy from '@middy/core';
import type { RemovalStepInput } from '../deprovision/deprovision-input.js';
import { removeTenantResource } from '../deprovision/deprovision-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type Removed = Awaited<ReturnType<typeof removeTenantResource>>;

export function removeAppFiles(event: RemovalStepInput): Promise<Removed> {
  return removeTenantResource('app files', event, ports());
}

export const handler = middy<RemovalStepInput, Removed>().use(trackStep('RemoveAppFiles')).handler(removeAppFiles);
