import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import type { Ports } from '../ports/index.js';
import { tenantDatabaseExists } from '../provision/tenant-database.js';
import { BackupRegistry, type BackupReason, type BackupRecord } from '../registry/backup-registry.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import { backupTenant } from './backup-tenant.js';

/** How long a final backup (the one deprovision takes) is kept, unless the platform config says otherwise. */
export const DEFAULT_BACKUP_RETENTION_DAYS = 30;

export interface TakeBackupRequest {
  readonly tenantId: string;
  readonly reason: BackupReason;
  readonly requestedBy: string;
  /** The operation taking it (deprovision's final backup): a retry finds the backup it already took. */
  readonly operationId?: string;
  readonly now?: Date;
}

/** `bk-20261123T130501-3fa9c2`: sorts by time, unique, safe in a path and a URL. */
export function newBackupId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  return `bk-${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * Takes a per-tenant backup into the backup store and records it in the registry. The tenant's own
 * database only, read consistently in one transaction: no other tenant is touched. Returns undefined
 * when the tenant has no database to back up (a provision that failed early, a deprovision run again).
 */
export async function takeBackup(
  request: TakeBackupRequest,
  ports: Pick<Ports, 'sql' | 'secrets' | 'backups' | 'config'>,
): Promise<BackupRecord | undefined> {
  const { sql, secrets, backups: store, config } = ports;
  const registry = new BackupRegistry(sql);
  if (request.operationId) {
    const earlier = await registry.forOperation(request.operationId);
    if (earlier) return earlier;
  }
  const tenant = await new TenantRegistry(sql).getTenant(request.tenantId);
  if (!tenant) throw new NotFoundError(`no tenant ${request.tenantId}`);
  const names = tenant.plan?.names;
  if (!names || !(await tenantDatabaseExists(names, sql))) {
    if (request.reason === 'final') return undefined;
    throw new ConflictError(`tenant ${request.tenantId} has no database to back up (it is ${tenant.status})`, { tenantId: request.tenantId });
  }
  const now = request.now ?? new Date();
  const backupId = newBackupId(now);
  const location = `${config.environment}/${request.tenantId}/${backupId}`;
  const manifest = await backupTenant({ sql, secrets, store, names, tenantId: request.tenantId, backupId, prefix: location, reason: request.reason, now });
  const retentionDays = config.backupRetentionDays ?? DEFAULT_BACKUP_RETENTION_DAYS;
  return registry.record({
    backupId,
    tenantId: request.tenantId,
    operationId: request.operationId ?? null,
    reason: request.reason,
    location,
    app: manifest.definition ? manifest.definition.name : null,
    entities: manifest.entities.length,
    rows: manifest.entities.reduce((sum, entity) => sum + entity.rows, 0),
    bytes: manifest.entities.reduce((sum, entity) => sum + entity.bytes, 0),
    requestedBy: request.requestedBy,
    expiresAt: request.reason === 'final' ? new Date(now.getTime() + retentionDays * 86_400_000).toISOString() : null,
  });
}
