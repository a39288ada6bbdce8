import type { EntityDefinition } from '../app-definition/app-definition-schema.js';
import { definitionFingerprint, planMigration, type MigrationStep } from '../app-definition/migration-plan.js';
import { derivedName, quoteIdent } from '../app-definition/sql-text.js';
import type { TenantResourceNames } from '../domain/naming.js';
import type { BackupStorePort } from '../ports/backup-store.js';
import type { SqlExecutor, SqlPort, SqlRow, SqlValue } from '../ports/sql.js';
import { APPLIED_MIGRATIONS_TABLE, ensureLedgerIn, SCHEMA_STATE_TABLE, TENANT_SCHEMA_LOCK } from '../deploy/tenant-ledger.js';
import { entityColumns, readBackup, type ColumnDescription } from './backup-format.js';

/**
 * Rows per INSERT, and bounds on one statement's parameters and size (the RDS Data API takes
 * requests of up to 4 MiB; PostgreSQL up to 65,535 parameters).
 */
export const RESTORE_BATCH = { rows: 1000, parameters: 20_000, bytes: 2 * 1024 * 1024 } as const;

export interface RestoreTenantInput {
  readonly sql: SqlPort;
  readonly store: BackupStorePort;
  /** The tenant restored into: the backup's own tenant, or another (a new tenant of the same id after a deletion). */
  readonly names: TenantResourceNames;
  /** The backup's prefix in the store. */
  readonly prefix: string;
}

export interface RestoreResult {
  readonly entities: readonly { readonly entity: string; readonly rows: number }[];
}

/**
 * Restores a backup into one tenant's database, replacing its app schema whole.
 *
 * The backup is read and verified first (manifest, every file's SHA-256 and row count, every
 * row): a tampered or incomplete backup is refused before the database is touched. Then, in one
 * transaction on that tenant's database only: its `app` schema is dropped and made again, owned
 * by its role; the ledger is cleared; the tables are created by the first-deploy plan of the
 * backup's definition, as the tenant's role; the rows go in (ids kept) with foreign keys checked
 * once all are in; each id sequence is set past the largest id; and the plan's steps and the
 * definition are recorded as a deploy records them, so the next deploy plans from here.
 */
export async function restoreTenant({ sql, store, names, prefix }: RestoreTenantInput): Promise<RestoreResult> {
  const backup = await readBackup(store, prefix);
  const { definition } = backup.manifest;
  const plan = definition ? planMigration(null, definition, { allowDestructive: false, schema: names.schema }) : undefined;
  const schema = quoteIdent(names.schema);
  const role = quoteIdent(names.role);

  await sql.transaction(
    async (tx) => {
      await tx.query('SET LOCAL search_path = pg_catalog, pg_temp');
      await tx.query(`SELECT pg_catalog.pg_advisory_xact_lock(${TENANT_SCHEMA_LOCK})`);
      // First, before anything else touches the tenant's database: every object the tenant made
      // goes (dropping runs none of them), so nothing the tenant made can run in this admin session.
      await tx.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await tx.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${role}`);
      await ensureLedgerIn(tx, names.role);
      await tx.query(`DELETE FROM ${APPLIED_MIGRATIONS_TABLE}`);
      await tx.query(`DELETE FROM ${SCHEMA_STATE_TABLE}`);
      if (!definition || !plan) return;

      // The tenant owns what is made and written: its tables, their rows and sequences.
      await tx.query(`SET LOCAL ROLE ${role}`);
      for (const step of plan.steps) await tx.query(step.sql);
      const foreignKeys = backup.entities.flatMap(({ definition: entity }) =>
        entity.fields.filter((field) => field.type === 'reference').map((field) => ({ table: tableOf(names.schema, entity), name: quoteIdent(derivedName([entity.name, field.name], 'fkey')) })),
      );
      // Rows may refer to rows inserted after them (an entity referring to itself, references in a
      // loop): the foreign keys are checked at the end, then made immediate again as planned.
      for (const { table, name } of foreignKeys) await tx.query(`ALTER TABLE ${table} ALTER CONSTRAINT ${name} DEFERRABLE INITIALLY DEFERRED`);
      for (const { definition: entity, rows } of backup.entities) {
        await insertRows(tx, tableOf(names.schema, entity), entityColumns(entity), rows);
        await tx.query(
          `SELECT setval(pg_get_serial_sequence(:table, 'id'), GREATEST(COALESCE(MAX("id"), 0), 0) + 1, false) FROM ${tableOf(names.schema, entity)}`,
          { table: tableOf(names.schema, entity) },
        );
      }
      if (foreignKeys.length > 0) await tx.query('SET CONSTRAINTS ALL IMMEDIATE');
      for (const { table, name } of foreignKeys) await tx.query(`ALTER TABLE ${table} ALTER CONSTRAINT ${name} NOT DEFERRABLE INITIALLY IMMEDIATE`);
      await tx.query('RESET ROLE');

      await recordSteps(tx, plan.steps, plan.to);
      await tx.query(
        `INSERT INTO ${SCHEMA_STATE_TABLE} (singleton, fingerprint, definition) VALUES (true, :fingerprint, CAST(:definition AS json))`,
        { fingerprint: definitionFingerprint(definition), definition: JSON.stringify(definition) },
      );
    },
    { database: names.database },
  );

  return { entities: backup.entities.map(({ backup: entity }) => ({ entity: entity.entity, rows: entity.rows })) };
}

function tableOf(schema: string, entity: EntityDefinition): string {
  return `${quoteIdent(schema)}.${quoteIdent(entity.name)}`;
}

/** What a parameter is cast to: the column's type, but a string as text, so an over-long value fails rather than being cut. */
function castType(column: ColumnDescription): string {
  return column.type === 'string' ? 'text' : column.sqlType;
}

/** Multi-row INSERTs with named parameters, ids kept (`OVERRIDING SYSTEM VALUE`: `id` is an identity column). */
async function insertRows(tx: SqlExecutor, table: string, columns: readonly ColumnDescription[], rows: readonly SqlRow[]): Promise<void> {
  const head = `INSERT INTO ${table} (${columns.map((column) => quoteIdent(column.name)).join(', ')}) OVERRIDING SYSTEM VALUE VALUES `;
  const casts = columns.map(castType);
  let tuples: string[] = [];
  let params: Record<string, SqlValue> = {};
  let count = 0;
  let bytes = head.length;
  const flush = async () => {
    if (tuples.length === 0) return;
    await tx.query(head + tuples.join(', '), params);
    tuples = [];
    params = {};
    count = 0;
    bytes = head.length;
  };
  for (const row of rows) {
    const tuple = columns.map((column, j) => {
      const name = `v${count++}`;
      const value = row[column.name] ?? null;
      params[name] = value;
      const cast = `CAST(:${name} AS ${casts[j]})`;
      bytes += cast.length + 64 + (typeof value === 'string' ? Buffer.byteLength(value) : 16);
      return cast;
    });
    tuples.push(`(${tuple.join(', ')})`);
    if (tuples.length >= RESTORE_BATCH.rows || count + columns.length > RESTORE_BATCH.parameters || bytes >= RESTORE_BATCH.bytes) await flush();
  }
  await flush();
}

/** The plan's steps in the ledger, as apply-migrations.ts records each. */
async function recordSteps(tx: SqlExecutor, steps: readonly MigrationStep[], planTo: string): Promise<void> {
  if (steps.length === 0) return;
  const params: Record<string, SqlValue> = { to: planTo };
  const tuples = steps.map((step, i) => {
    params[`id${i}`] = step.id;
    params[`summary${i}`] = step.summary;
    return `(:id${i}, :summary${i}, :to)`;
  });
  await tx.query(`INSERT INTO ${APPLIED_MIGRATIONS_TABLE} (step_id, summary, plan_to) VALUES ${tuples.join(', ')}`, params);
}
