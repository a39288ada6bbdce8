import { errorMessage, TransientError } from '../domain/errors.js';
import type { TenantResourceNames } from '../domain/naming.js';
import { cacheOf } from '../ports/cache-users.js';
import type { Ports } from '../ports/index.js';
import { removeTenantCacheUser } from './tenant-cache-user.js';
import { removeTenantDatabase } from './tenant-database.js';

export interface RemovalReport {
  /** Resources that existed and were removed. */
  readonly removed: string[];
}

export type RemovalPorts = Pick<Ports, 'sql' | 'secrets' | 'cacheUsers' | 'compute' | 'edge' | 'appFiles'>;

/** What removal needs of a tenant: its resources' names, and the cache its cache user lives on. */
export interface RemovalTarget {
  readonly names: TenantResourceNames;
  readonly cache: number;
}

export type RemovableResource = 'route' | 'compute' | 'static assets' | 'cache user' | 'database' | 'secrets' | 'app files';

/**
 * Every kind of tenant resource and how to remove it, delete-if-present (each says whether there
 * was something to remove), front to back: route first, so no request reaches a half-removed
 * tenant. Compensation runs them all; deprovision runs each as a state of its own.
 */
export const TENANT_RESOURCE_REMOVALS: Readonly<Record<RemovableResource, (tenant: RemovalTarget, ports: RemovalPorts) => Promise<boolean>>> = {
  route: ({ names }, ports) => ports.edge.removeRoute(names.hostLabel),
  compute: ({ names }, ports) => ports.compute.removeService(names.computeService),
  'static assets': ({ names }, ports) => ports.edge.removeStaticAssets(names.assetsBucket),
  'cache user': ({ names, cache }, ports) => removeTenantCacheUser(names, cacheOf(ports.cacheUsers, cache), ports.secrets),
  database: ({ names }, ports) => removeTenantDatabase(names, ports.sql, ports.secrets),
  // Whatever secret of the tenant the two above did not take with them.
  secrets: async ({ names }, ports) => {
    const prefix = names.databaseSecret.slice(0, names.databaseSecret.lastIndexOf('/') + 1);
    let removed = false;
    for (const name of await ports.secrets.list(prefix)) removed = (await ports.secrets.delete(name)) || removed;
    return removed;
  },
  'app files': ({ names }, ports) => ports.appFiles.removeFolder(names.appFilesFolder),
};

/**
 * Removes every resource of a tenant, in the order above. Every removal is tried; if any failed, a
 * TransientError lists them so the state machine retries the whole, idempotent, step.
 */
export async function removeTenantResources(tenant: RemovalTarget, ports: RemovalPorts): Promise<RemovalReport> {
  const removed: string[] = [];
  const failures: string[] = [];
  for (const [what, remove] of Object.entries(TENANT_RESOURCE_REMOVALS)) {
    try {
      if (await remove(tenant, ports)) removed.push(what);
    } catch (error) {
      failures.push(`${what}: ${errorMessage(error)}`);
    }
  }
  if (failures.length > 0) throw new TransientError(`could not remove ${failures.join('; ')}`);
  return { removed };
}
