import { errorMessage, TransientError } from '../domain/errors.js';
import type { TenantResourceNames } from '../domain/naming.js';
import type { Ports } from '../ports/index.js';
import { removeTenantCacheUser } from './tenant-cache-user.js';
import { removeTenantDatabase } from './tenant-database.js';

export interface RemovalReport {
  /** Resources that existed and were removed. */
  readonly removed: string[];
}

type RemovalPorts = Pick<Ports, 'sql' | 'secrets' | 'cacheUsers' | 'compute' | 'edge' | 'appFiles'>;

/**
 * Removes every resource of a tenant, each delete-if-present, front to back (route first, so no
 * request reaches a half-removed tenant). Every removal is tried; if any failed, a TransientError
 * lists them so the state machine retries the whole, idempotent, step.
 */
export async function removeTenantResources(names: TenantResourceNames, ports: RemovalPorts): Promise<RemovalReport> {
  const removals: [string, () => Promise<boolean>][] = [
    ['route', () => ports.edge.removeRoute(names.hostLabel)],
    ['compute', () => ports.compute.removeService(names.computeService)],
    ['static assets', () => ports.edge.removeStaticAssets(names.assetsBucket)],
    ['cache user', () => removeTenantCacheUser(names, ports.cacheUsers, ports.secrets)],
    ['database', () => removeTenantDatabase(names, ports.sql, ports.secrets)],
    ['app files', () => ports.appFiles.removeFolder(names.appFilesFolder)],
  ];
  const removed: string[] = [];
  const failures: string[] = [];
  for (const [what, remove] of removals) {
    try {
      if (await remove()) removed.push(what);
    } catch (error) {
      failures.push(`${what}: ${errorMessage(error)}`);
    }
  }
  if (failures.length > 0) throw new TransientError(`could not remove ${failures.join('; ')}`);
  return { removed };
}
