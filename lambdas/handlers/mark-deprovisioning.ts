import middy from '@middy/core';
import type { DeprovisionExecutionInput, DeprovisionTarget } from '../deprovision/deprovision-input.js';
import { markDeprovisioning as mark } from '../deprovision/deprovision-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

export function markDeprovisioning(event: DeprovisionExecutionInput): Promise<DeprovisionTarget> {
  const { sql, config } = ports();
  return mark(event, sql, config.environment);
}

export const handler = middy<DeprovisionExecutionInput, DeprovisionTarget>().use(trackStep('MarkDeprovisioning')).handler(markDeprovisioning);
