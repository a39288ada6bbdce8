import { Redis } from 'ioredis';
import { startLocalControlPlane, type LocalControlPlane } from '../../local/control-plane.js';
import type { Cleanup } from './cleanup.js';
import { dropEnvironmentDatabases } from './postgres.js';

/** What the control plane uses when REDIS_URL is not set. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const CELL = 'local';

/** The Redis a run uses, for its header line. */
export const redisLabel = (redisUrl: string | undefined): string => redisUrl ?? `${DEFAULT_REDIS_URL} (default)`;

/** A new environment name for one run: `bench` + 6 base-36 characters (11, within the 12 an environment may have). */
export function uniqueEnvironment(): string {
  const suffix = Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, '0');
  return `bench${suffix}`;
}

export interface BenchControlPlaneOptions {
  readonly stateDir: string;
  readonly environment: string;
  readonly maxTenants: number;
  /** The PostgreSQL to use (admin login); undefined: the control plane's own embedded one. */
  readonly databaseUrl: string | undefined;
  /** Drop the `hp_<environment>_*` databases and roles at cleanup (a PostgreSQL that outlives the run). */
  readonly dropDatabases: boolean;
  readonly redisUrl: string | undefined;
}

/**
 * Starts a whole local control plane on free ports, with production retry intervals, and
 * registers its undoing with `cleanup`: stopping it (tenant processes, API, front door, its
 * embedded PostgreSQL), dropping what it made in an external PostgreSQL, deleting its Redis ACL
 * users. A Ctrl-C while it starts waits for the start, then stops it.
 */
export function startBenchControlPlane(cleanup: Cleanup, options: BenchControlPlaneOptions): Promise<LocalControlPlane> {
  const { environment, databaseUrl } = options;
  const redisUrl = options.redisUrl ?? DEFAULT_REDIS_URL;
  cleanup.add(`Redis ACL users hp-${environment}-*`, () => deleteCacheUsers(redisUrl, environment));
  if (databaseUrl && options.dropDatabases) {
    cleanup.add(`databases and roles hp_${environment}_*`, () => dropEnvironmentDatabases(databaseUrl, environment));
  }
  const starting = startLocalControlPlane({
    stateDir: options.stateDir,
    environment,
    cell: CELL,
    maxTenants: options.maxTenants,
    apiPort: 0,
    edgePort: 0,
    databaseUrl,
    redisUrl: options.redisUrl,
    log: (line) => console.log(`  [control plane] ${line}`),
  });
  cleanup.add(`stopped the control plane and its tenant processes${databaseUrl ? '' : ' and the embedded PostgreSQL'}`, async () => {
    const cp = await starting.catch(() => undefined);
    return cp ? cp.close() : null;
  });
  return starting;
}

/** Deletes the Redis ACL users `hp-<environment>-*` (the tenants' cache users). */
export async function deleteCacheUsers(redisUrl: string, environment: string): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch {
    return 'Redis not reachable, no cache users to delete';
  }
  try {
    const users: unknown = await redis.acl('USERS');
    const prefix = `hp-${environment}-`;
    const ours = Array.isArray(users) ? users.filter((u): u is string => typeof u === 'string' && u.startsWith(prefix)) : [];
    for (const user of ours) await redis.acl('DELUSER', user);
    return `deleted ${ours.length} cache user(s)`;
  } finally {
    redis.disconnect();
  }
}
