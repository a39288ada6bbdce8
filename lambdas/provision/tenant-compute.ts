import type { TenantPlan } from '../domain/tenant-plan.js';
import type { ComputeSpec, SecretEnvironmentVariable } from '../ports/compute.js';

/** The tenant's database login, as libpq variables (read by pg itself: no URL to escape). */
const DATABASE_VARIABLES: readonly (readonly [string, string])[] = [
  ['PGHOST', 'host'],
  ['PGPORT', 'port'],
  ['PGDATABASE', 'dbname'],
  ['PGUSER', 'username'],
  ['PGPASSWORD', 'password'],
];

/**
 * Whether the app must use TLS and verify the server (`verify-full` in the cloud: pg then checks the
 * chain against Node's store plus NODE_EXTRA_CA_CERTS, which holds the RDS CAs in the tenant image).
 * Optional only for local secrets made before the key existed; every secret made since holds it.
 */
const DATABASE_TLS_VARIABLE = ['PGSSLMODE', 'sslmode'] as const;

/** The tenant's cache user and key prefix; absent when the tenant has no cache. */
const CACHE_VARIABLES: readonly (readonly [string, string])[] = [
  ['REDIS_URL', 'url'],
  ['HOSTPLANE_CACHE_PREFIX', 'keyPrefix'],
];

/** The compute a tenant's plan asks for. */
export function computeSpecFor(plan: TenantPlan): ComputeSpec {
  const { databaseSecret, cacheSecret } = plan.names;
  const fromSecret = (secretName: string, optional: boolean) =>
    ([name, key]: readonly [string, string]): SecretEnvironmentVariable => ({ name, secretName, key, ...(optional ? { optional } : {}) });
  return {
    serviceName: plan.names.computeService,
    tenantId: plan.tenantId,
    displayName: plan.displayName,
    memoryMb: plan.compute.memoryMb,
    ...(plan.compute.memoryReservationMb !== undefined ? { memoryReservationMb: plan.compute.memoryReservationMb } : {}),
    cpuUnits: plan.compute.cpuUnits,
    appFilesFolder: plan.names.appFilesFolder,
    assetsBucket: plan.names.assetsBucket,
    secretNames: [databaseSecret, ...(plan.cache.enabled ? [cacheSecret] : [])],
    secretEnvironment: [
      ...DATABASE_VARIABLES.map(fromSecret(databaseSecret, false)),
      fromSecret(databaseSecret, true)(DATABASE_TLS_VARIABLE),
      ...(plan.cache.enabled ? CACHE_VARIABLES.map(fromSecret(cacheSecret, true)) : []),
    ],
  };
}
