import middy from '@middy/core';
import { publishRelease } from '../deploy/activate-release.js';
import type { PublishedRelease, PublishInput } from '../deploy/deploy-input.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

export function publish(event: PublishInput): Promise<PublishedRelease> {
  const { sql, appFiles, edge, notices } = ports();
  return publishRelease(event, sql, appFiles, edge, notices);
}

export const handler = middy<PublishInput, PublishedRelease>().use(trackStep('Publish')).handler(publish);
