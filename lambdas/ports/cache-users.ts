import { PermanentError } from '../domain/errors.js';

/** One tenant's cache user: it may touch only keys and channels matching its patterns. */
export interface CacheUserSpec {
  readonly userName: string;
  readonly password: string;
  readonly keyPattern: string;
  readonly channelPattern: string;
}

/**
 * Where tenants reach the cache, and whether it speaks TLS only (ElastiCache with encryption in
 * transit: a tenant's URL is then `rediss://`). The adapter knows; the domain only builds the URL.
 */
export interface CacheEndpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

export type CacheAvailability = { readonly available: true; readonly endpoint: CacheEndpoint } | { readonly available: false; readonly reason: string };

/** Cache users (Redis ACL locally, ElastiCache RBAC in the cloud). */
export interface CacheUsersPort {
  /** Whether a cache is there to hold users, and if not, why. */
  availability(): Promise<CacheAvailability>;
  /** Creates the user, or brings an existing one to `spec`. */
  ensureUser(spec: CacheUserSpec): Promise<void>;
  /** Deletes the user if present; says whether it was. */
  deleteUser(userName: string): Promise<boolean>;
  userExists(userName: string): Promise<boolean>;
  /** Names of the users that start with `prefix` (this environment's: `hp-<env>-`), sorted. */
  listUsers(prefix: string): Promise<string[]>;
}

/**
 * The port of cache `index` among the cell's (`Ports.cacheUsers` or `Ports.notices`), or a clear
 * error: a plan naming a cache the cell does not have is a configuration or placement bug.
 */
export function cacheOf<P>(caches: readonly P[], index: number): P {
  const port = Number.isInteger(index) ? caches[index] : undefined;
  if (port === undefined) {
    throw new PermanentError(`the tenant lives on cache ${index}, but this cell has ${caches.length} (0 to ${caches.length - 1}); were caches removed from the cell?`);
  }
  return port;
}
