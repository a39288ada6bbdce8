import type { TenantResourceNames } from '../domain/naming.js';
import type { TenantPlan } from '../domain/tenant-plan.js';
import type { CacheEndpoint, CacheUsersPort } from '../ports/cache-users.js';
import type { SecretsPort } from '../ports/secrets.js';
import { generatePassword } from './passwords.js';
import type { StepOutcome } from './step-outcome.js';

/**
 * Creates (or updates) the tenant's cache user, limited to its own keys and channels. When the
 * tenant wants no cache, or no cache is reachable, the step is skipped and says why.
 */
export async function ensureTenantCacheUser(
  plan: TenantPlan,
  cacheUsers: CacheUsersPort,
  secrets: SecretsPort,
): Promise<StepOutcome> {
  if (!plan.cache.enabled) return { status: 'skipped', skipped: 'the tenant asked for no cache' };
  const availability = await cacheUsers.availability();
  if (!availability.available) return { status: 'skipped', skipped: availability.reason };

  const { cacheUser, cacheKeyPattern, cacheChannelPattern, cacheSecret } = plan.names;
  const secret = await secrets.getOrCreate(cacheSecret, () => {
    const password = generatePassword();
    const { host, port } = availability.endpoint;
    return {
      host,
      port: String(port),
      username: cacheUser,
      password,
      keyPrefix: cacheKeyPattern.slice(0, -1),
      url: tenantCacheUrl(availability.endpoint, cacheUser, password),
    };
  });
  await cacheUsers.ensureUser({
    userName: cacheUser,
    password: secret.password!,
    keyPattern: cacheKeyPattern,
    channelPattern: cacheChannelPattern,
  });
  return { status: 'created', cacheUser };
}

/**
 * The tenant's `REDIS_URL`: `rediss://` when the cache speaks TLS only (ElastiCache with encryption
 * in transit, whose certificate the app verifies against Node's own trust store), else `redis://`.
 * The password is letters and digits only, so it needs no escaping in a URL.
 */
export function tenantCacheUrl(endpoint: CacheEndpoint, userName: string, password: string): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.tls ? 'rediss' : 'redis'}://${encodeURIComponent(userName)}:${password}@${host}:${endpoint.port}`;
}

/** Deletes the tenant's cache user and secret if present. A cache that is not reachable holds no user to remove. */
export async function removeTenantCacheUser(
  names: TenantResourceNames,
  cacheUsers: CacheUsersPort,
  secrets: SecretsPort,
): Promise<boolean> {
  const availability = await cacheUsers.availability();
  const userExisted = availability.available ? await cacheUsers.deleteUser(names.cacheUser) : false;
  const secretExisted = await secrets.delete(names.cacheSecret);
  return userExisted || secretExisted;
}
