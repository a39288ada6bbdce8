import type { SqlExecutor, SqlRow } from '../ports/sql.js';

export type BackupReason = 'manual' | 'final';

/** A per-tenant backup, as the registry lists it; the data itself is in the backup store at `location`. */
export interface BackupRecord {
  readonly backupId: string;
  readonly tenantId: string;
  readonly operationId: string | null;
  readonly reason: BackupReason;
  /** Key prefix in the backup store. */
  readonly location: string;
  /** The app the data belongs to (null: the tenant had deployed nothing). */
  readonly app: string | null;
  readonly entities: number;
  readonly rows: number;
  readonly bytes: number;
  readonly requestedBy: string;
  readonly createdAt: string;
  /** When it may be removed (final backups are kept for the retention period); null: kept until removed. */
  readonly expiresAt: string | null;
}

export type NewBackup = Omit<BackupRecord, 'createdAt'>;

export class BackupRegistry {
  constructor(private readonly sql: SqlExecutor) {}

  /** Records a backup; recording the same id again (a retried step) changes nothing. */
  async record(backup: NewBackup): Promise<BackupRecord> {
    await this.sql.query(
      `INSERT INTO backups (backup_id, tenant_id, operation_id, reason, location, app, entities, rows, bytes, requested_by, expires_at)
       VALUES (:backupId, :tenantId, :operationId, :reason, :location, :app, :entities, :rows, :bytes, :requestedBy, CAST(:expiresAt AS timestamptz))
       ON CONFLICT (backup_id) DO NOTHING`,
      { ...backup },
    );
    return (await this.get(backup.backupId))!;
  }

  async get(backupId: string): Promise<BackupRecord | undefined> {
    const { rows } = await this.sql.query('SELECT * FROM backups WHERE backup_id = :backupId', { backupId });
    return rows[0] ? toBackup(rows[0]) : undefined;
  }

  /** A tenant's backups, newest first, those of earlier tenants of the same id included. */
  async listForTenant(tenantId: string): Promise<BackupRecord[]> {
    const { rows } = await this.sql.query('SELECT * FROM backups WHERE tenant_id = :tenantId ORDER BY created_at DESC, backup_id DESC', { tenantId });
    return rows.map(toBackup);
  }

  /** The backup an operation took, if it took one (a retried final backup finds the first). */
  async forOperation(operationId: string): Promise<BackupRecord | undefined> {
    const { rows } = await this.sql.query('SELECT * FROM backups WHERE operation_id = :operationId ORDER BY created_at LIMIT 1', { operationId });
    return rows[0] ? toBackup(rows[0]) : undefined;
  }
}

function toBackup(row: SqlRow): BackupRecord {
  return {
    backupId: String(row.backup_id),
    tenantId: String(row.tenant_id),
    operationId: row.operation_id === null ? null : String(row.operation_id),
    reason: String(row.reason) as BackupReason,
    location: String(row.location),
    app: row.app === null ? null : String(row.app),
    entities: Number(row.entities),
    rows: Number(row.rows),
    bytes: Number(row.bytes),
    requestedBy: String(row.requested_by),
    createdAt: String(row.created_at),
    expiresAt: row.expires_at === null ? null : String(row.expires_at),
  };
}
