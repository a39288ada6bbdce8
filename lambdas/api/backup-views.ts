import type { BackupRecord } from '../registry/backup-registry.js';

/** A backup as the API shows it. */
export function backupView(backup: BackupRecord) {
  return {
    backupId: backup.backupId,
    tenantId: backup.tenantId,
    reason: backup.reason,
    app: backup.app,
    entities: backup.entities,
    rows: backup.rows,
    bytes: backup.bytes,
    requestedBy: backup.requestedBy,
    createdAt: backup.createdAt,
    expiresAt: backup.expiresAt,
    operationId: backup.operationId,
    links: { tenant: `/tenants/${backup.tenantId}`, export: `/tenants/${backup.tenantId}/backups/${backup.backupId}/export` },
  };
}
