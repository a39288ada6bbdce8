import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { CacheUsersPort } from '../../lambdas/ports/cache-users.js';
import { ElastiCacheCacheUsers } from '../adapters/elasticache-cache-users.js';
import type { CloudContext } from '../cloud-context.js';
import { cachesVariable } from '../cloud-environment.js';

/** One adapter per cache of the cell (`HOSTPLANE_CACHES`), each on that cache's user group and endpoint, sharing one SDK client. */
export function cacheUsersPort(context: CloudContext): CacheUsersPort[] {
  const caches = cachesVariable(context.env, 'the cache-users port (ElastiCache RBAC)');
  const client = context.client('elasticache', (c) => new ElastiCacheClient(c));
  return caches.map(
    (cache) =>
      new ElastiCacheCacheUsers({
        client,
        userGroupId: cache.userGroupId,
        endpoint: { host: cache.host, port: cache.port },
        // The cell's caches have encryption in transit (RBAC requires it): tenants get rediss:// URLs.
        tls: true,
        // The cell's user groups are of engine `redis` on Valkey caches: a `valkey` group cannot hold the disabled, password-less `default` user.
        engine: 'redis',
      }),
  );
}
