import type { TenantResourceNames } from '../domain/naming.js';
import type { TenantPlan } from '../domain/tenant-plan.js';
import type { CacheUsersPort } from '../ports/cache-users.js';
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
      // The password is letters and digits only, so it needs no escaping in a URL.
      url: `redis://${encodeURIComponent(cacheUser)}:${password}@${host.includes(':') ? `[${host}]` : host}:${port}`,
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
