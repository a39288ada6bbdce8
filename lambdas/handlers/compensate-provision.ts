import middy from '@middy/core';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import { compensateProvision as compensate } from '../provision/finish-provision.js';
import type { RemovalReport } from '../provision/remove-tenant-resources.js';
import type { ProvisionFailureInput } from '../provision/workflow-input.js';

export function compensateProvision(event: ProvisionFailureInput): Promise<RemovalReport & { skipped?: string }> {
  return compensate(event, ports());
}

export const handler = middy<ProvisionFailureInput, RemovalReport>().use(trackStep('CompensateProvision')).handler(compensateProvision);
