import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { CacheUsersPort } from '../../lambdas/ports/cache-users.js';
import { ElastiCacheCacheUsers } from '../adapters/elasticache-cache-users.js';
import type { CloudContext } from '../cloud-context.js';
import { integerVariable, requireVariable } from '../cloud-environment.js';

export function cacheUsersPort(context: CloudContext): CacheUsersPort {
  const { env } = context;
  const neededFor = 'the cache-users port (ElastiCache RBAC)';
  return new ElastiCacheCacheUsers({
    client: context.client('elasticache', (c) => new ElastiCacheClient(c)),
    userGroupId: requireVariable(env, 'cacheUserGroupId', neededFor),
    endpoint: { host: requireVariable(env, 'cacheHost', neededFor), port: integerVariable(env, 'cachePort', neededFor, 1, 65_535) },
    // The cell's cache has encryption in transit (RBAC requires it): tenants get rediss:// URLs.
    tls: true,
    // The cell's user group is of engine `redis` on a Valkey cache: a `valkey` group cannot hold the disabled, password-less `default` user.
    engine: 'redis',
  });
}
