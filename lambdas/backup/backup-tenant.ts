import { parseAppDefinition, type AppDefinition, type EntityDefinition } from '../app-definition/app-definition-schema.js';
import { definitionFingerprint } from '../app-definition/migration-plan.js';
import { quoteIdent } from '../app-definition/sql-text.js';
import { PermanentError } from '../domain/errors.js';
import type { TenantResourceNames } from '../domain/naming.js';
import { checkBackupKey, type BackupStorePort } from '../ports/backup-store.js';
import type { SecretsPort } from '../ports/secrets.js';
import type { SqlExecutor, SqlPort, SqlRow } from '../ports/sql.js';
import { ensureLedger, LEDGER_FUNCTIONS } from '../deploy/tenant-ledger.js';
import { signInAsTenant } from '../deploy/tenant-login.js';
import {
  BACKUP_FORMAT,
  backupKey,
  dataFileOf,
  encodeRows,
  entityColumns,
  MANIFEST_FILE,
  sha256Hex,
  type BackupManifest,
  type EntityBackup,
} from './backup-format.js';

/** Rows per read: the RDS Data API answers at most 1,000 records (and 1 MB) a call. */
export const BACKUP_PAGE_ROWS = 1000;

export interface BackupTenantInput {
  readonly sql: SqlPort;
  /** Where the tenant's database secret is: the tables are read on the tenant's own login. */
  readonly secrets: SecretsPort;
  readonly store: BackupStorePort;
  readonly names: TenantResourceNames;
  readonly tenantId: string;
  /** Names the backup; taking it again with the same id rewrites the same keys. */
  readonly backupId: string;
  /** Where its files go in the store (`<environment>/<tenant>/<backupId>`). */
  readonly prefix: string;
  /** Why it was taken (`manual`, `final`…), kept in the manifest. */
  readonly reason: string;
  readonly now?: Date;
}

/**
 * Backs up one tenant's data: every entity table of the definition its schema is at, read in id
 * order with keyset paging, all in one read-only repeatable-read transaction on the tenant's own
 * database (a consistent snapshot; no other database is read). The data files are written first
 * and the manifest last, so a backup cut off half-way is never taken for a complete one.
 *
 * The transaction is on the tenant's own login, not the platform's: the tenant owns its schema and
 * could have put a view, a policy or a function there, which must never run with the platform's
 * rights (`SET ROLE` on the admin's login would not do: code may `RESET ROLE`; ADR 0009). The
 * definition comes from the platform's ledger through its read-only door for the tenant.
 */
export async function backupTenant(input: BackupTenantInput): Promise<BackupManifest> {
  const { sql, secrets, store, names, tenantId, backupId, prefix, reason } = input;
  checkBackupKey(prefix);
  checkBackupKey(backupId);
  if (backupId.includes('/')) throw new Error(`${JSON.stringify(backupId)} is not a backup id (no /)`);
  const createdAt = (input.now ?? new Date()).toISOString();
  const manifestKey = backupKey(prefix, MANIFEST_FILE);

  // Taken again: the earlier manifest goes first, so the backup reads as incomplete until it is whole again.
  await store.remove(manifestKey);

  await ensureLedger(sql, names);
  const tenant = await signInAsTenant(sql, secrets, names);
  const { definition, fingerprint, entities } = await tenant.transaction(
    async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await tx.query('SET LOCAL search_path = pg_catalog, pg_temp');
      await tx.query("SET LOCAL TimeZone = 'UTC'");
      const state = await schemaState(tx);
      if (!state) return { definition: null, fingerprint: null, entities: [] };
      const written: EntityBackup[] = [];
      for (const entity of state.definition.entities) {
        const rows = await readTable(tx, names.schema, entity);
        const content = encodeRows(rows);
        const file = dataFileOf(entity.name);
        await store.write(backupKey(prefix, file), content);
        written.push({
          entity: entity.name,
          table: `${names.schema}.${entity.name}`,
          columns: entityColumns(entity).map((column) => column.name),
          rows: rows.length,
          bytes: Buffer.byteLength(content),
          sha256: sha256Hex(content),
          file,
        });
      }
      return { ...state, entities: written };
    },
    { database: names.database },
  );

  const manifest: BackupManifest = { format: BACKUP_FORMAT, backupId, tenantId, createdAt, reason, definition, fingerprint, entities };
  await removeStaleDataFiles(store, prefix, new Set(entities.map((entity) => backupKey(prefix, entity.file))));
  await store.write(manifestKey, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** The definition the tenant's schema is at, from its `schema_state`; undefined before the first deploy. */
async function schemaState(tx: SqlExecutor): Promise<{ definition: AppDefinition; fingerprint: string } | undefined> {
  const { rows } = await tx.query<{ fingerprint: string; definition: string }>(`SELECT fingerprint, definition FROM ${LEDGER_FUNCTIONS.schemaState}()`);
  const row = rows[0];
  if (!row) return undefined;
  const definition = parseAppDefinition(JSON.parse(row.definition));
  // What apply-migrations records always agrees; a backup that could not be restored must not pass for one.
  if (definitionFingerprint(definition) !== row.fingerprint) {
    throw new PermanentError(`the tenant's schema_state is inconsistent: its fingerprint does not match its definition`);
  }
  return { definition, fingerprint: row.fingerprint };
}

/** Every row of the entity's table, in id order, a page at a time. */
async function readTable(tx: SqlExecutor, schema: string, entity: EntityDefinition): Promise<SqlRow[]> {
  const columns = entityColumns(entity);
  const select = columns
    .map(({ name, type }) => (type === 'timestamp' ? `to_json(${quoteIdent(name)}) #>> '{}' AS ${quoteIdent(name)}` : quoteIdent(name)))
    .join(', ');
  const table = `${quoteIdent(schema)}.${quoteIdent(entity.name)}`;
  const first = `SELECT ${select} FROM ${table} ORDER BY "id" LIMIT ${BACKUP_PAGE_ROWS}`;
  const next = `SELECT ${select} FROM ${table} WHERE "id" > CAST(:after AS bigint) ORDER BY "id" LIMIT ${BACKUP_PAGE_ROWS}`;
  const rows: SqlRow[] = [];
  for (let after: SqlRow['id'] | undefined; ; ) {
    const page = after === undefined ? await tx.query(first) : await tx.query(next, { after });
    for (const row of page.rows) rows.push(normalised(row, columns));
    if (page.rows.length < BACKUP_PAGE_ROWS) return rows;
    after = page.rows[page.rows.length - 1]!.id;
  }
}

/** The row with its keys in column order, and non-finite numbers (which JSON cannot hold) as PostgreSQL spells them. */
function normalised(row: SqlRow, columns: readonly { readonly name: string }[]): SqlRow {
  const out: SqlRow = {};
  for (const { name } of columns) {
    const value = row[name] ?? null;
    out[name] = typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
  }
  return out;
}

/** Data files of an earlier run with the same id whose entity is no longer in the definition. */
async function removeStaleDataFiles(store: BackupStorePort, prefix: string, keep: ReadonlySet<string>): Promise<void> {
  for (const key of await store.list(`${prefix}/data/`)) {
    // `remove` takes a prefix: never one that would also take a file this backup keeps.
    if (![...keep].some((kept) => kept.startsWith(key))) await store.remove(key);
  }
}
