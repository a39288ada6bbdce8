import middy from '@middy/core';
import type { RemovalStepInput } from '../deprovision/deprovision-input.js';
import { markTenantDeleted as mark } from '../deprovision/deprovision-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

export function markTenantDeleted(event: RemovalStepInput): Promise<{ status: 'done' }> {
  return mark(event, ports().sql);
}

export const handler = middy<RemovalStepInput, { status: 'done' }>().use(trackStep('MarkTenantDeleted')).handler(markTenantDeleted);
