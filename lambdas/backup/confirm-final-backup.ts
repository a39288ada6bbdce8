import { PermanentError } from '../domain/errors.js';
import type { RemovalStepInput } from '../deprovision/deprovision-input.js';
import type { Ports } from '../ports/index.js';
import { tenantDatabaseExists } from '../provision/tenant-database.js';
import { BackupRegistry } from '../registry/backup-registry.js';

export type FinalBackup = { readonly backupId: string; readonly rows: number; readonly bytes: number } | { readonly skipped: string };

/**
 * After the BackupTenant job stopped: the final backup it recorded for this operation, or, when the
 * tenant has no database, nothing to back up. Anything else fails the step, so deprovision never
 * removes a database whose data is not in a backup — whatever the job's exit looked like to the
 * engine that ran it.
 */
export async function confirmFinalBackup(event: RemovalStepInput, ports: Pick<Ports, 'sql'>): Promise<FinalBackup> {
  const backup = await new BackupRegistry(ports.sql).forOperation(event.operationId);
  if (backup) return { backupId: backup.backupId, rows: backup.rows, bytes: backup.bytes };
  const names = event.tenant.names;
  if (!names || !(await tenantDatabaseExists(names, ports.sql))) return { skipped: 'the tenant has no database to back up' };
  throw new PermanentError(`the BackupTenant job stopped without recording a final backup of ${event.tenant.tenantId}; its database is kept`);
}
