import middy from '@middy/core';
import type { DeprovisionFailureInput } from '../deprovision/deprovision-input.js';
import { markDeprovisionFailed as mark } from '../deprovision/deprovision-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type Failed = Awaited<ReturnType<typeof mark>>;

export function markDeprovisionFailed(event: DeprovisionFailureInput): Promise<Failed> {
  return mark(event, ports().sql);
}

export const handler = middy<DeprovisionFailureInput, Failed>().use(trackStep('MarkDeprovisionFailed')).handler(markDeprovisionFailed);
