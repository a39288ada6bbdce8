import type { NoticesPort } from '../../lambdas/ports/notices.js';
import { RedisNotices } from '../adapters/redis-notices.js';
import type { CloudContext } from '../cloud-context.js';
import { cachesVariable } from '../cloud-environment.js';

/** PUBLISH over TLS on each cache of the cell (`HOSTPLANE_CACHES`), as that cache's control-plane user; each connects on first use. */
export function noticesPort(context: CloudContext): NoticesPort[] {
  return cachesVariable(context.env, 'the notices port (PUBLISH on the cell caches)').map(
    (cache) =>
      new RedisNotices({
        host: cache.host,
        port: cache.port,
        tls: true,
        credentials: async () => JSON.parse(await context.secretString(cache.noticesSecretArn)) as { username: string; password: string },
      }),
  );
}
