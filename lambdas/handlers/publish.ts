import middy from '@middy/core';
import { publishRelease } from '../deploy/activate-release.js';
import type { PublishedRelease, PublishInput } from '../deploy/deploy-input.js';
import { trackStep } from '../middleware/track-step.js';
import { cacheOf } from '../ports/cache-users.js';
import { ports } from '../ports/index.js';

export function publish(event: PublishInput): Promise<PublishedRelease> {
  const { sql, appFiles, edge, notices } = ports();
  // On the cache the tenant lives on; a deployment loaded before cells had several caches names none: cache 0.
  return publishRelease(event, sql, appFiles, edge, cacheOf(notices, event.deployment.cache ?? 0));
}

export const handler = middy<PublishInput, PublishedRelease>().use(trackStep('Publish')).handler(publish);
