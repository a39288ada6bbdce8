import middy from '@middy/core';
import type { RemovalStepInput } from '../deprovision/deprovision-input.js';
import { removeTenantResource } from '../deprovision/deprovision-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type Removed = Awaited<ReturnType<typeof removeTenantResource>>;

export function removeTenantSecrets(event: RemovalStepInput): Promise<Removed> {
  return removeTenantResource('secrets', event, ports());
}

export const handler = middy<RemovalStepInput, Removed>().use(trackStep('RemoveTenantSecrets')).handler(removeTenantSecrets);
