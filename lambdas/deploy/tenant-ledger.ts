import type { TenantResourceNames } from '../domain/naming.js';
import { quoteIdent, type SqlPort } from '../ports/sql.js';

/**
 * The platform's ledger in each tenant database: a schema owned by the platform's admin, holding
 * the migration steps applied and the definition the tenant's schema is at. Migrations and
 * restores both write it, under the same lock. The tenant's login can neither read nor write its
 * tables; it may only call the few functions below ({@link LEDGER_FUNCTIONS}), because migrations
 * run on the tenant's own login (docs/security.md, ADR 0009) and record their steps in the same
 * transaction. Those functions run as the admin (SECURITY DEFINER) with a pinned search_path and
 * touch nothing but the ledger: the worst a tenant can do with them is misreport its own schema.
 */
export const LEDGER_SCHEMA = 'hostplane';
const LEDGER = quoteIdent(LEDGER_SCHEMA);

/** Every step applied, by its stable id: a retry never applies one twice. */
export const APPLIED_MIGRATIONS_TABLE = `${LEDGER}.applied_migrations`;
/** One row: the definition the tenant's schema was last migrated (or restored) to. */
export const SCHEMA_STATE_TABLE = `${LEDGER}.schema_state`;

/** One migrator (or restore) per tenant database at a time: `pg_advisory_xact_lock` on this key. */
export const TENANT_SCHEMA_LOCK = 72_010_002;

/** Creates the ledger if missing; each statement is safe to run again. */
export const LEDGER_DDL: readonly string[] = [
  `CREATE SCHEMA IF NOT EXISTS ${LEDGER}`,
  `CREATE TABLE IF NOT EXISTS ${APPLIED_MIGRATIONS_TABLE} (
     step_id     text PRIMARY KEY,
     summary     text NOT NULL,
     plan_to     text NOT NULL,
     applied_at  timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS ${SCHEMA_STATE_TABLE} (
     singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
     fingerprint  text NOT NULL,
     definition   json NOT NULL,
     updated_at   timestamptz NOT NULL DEFAULT now()
   )`,
];

const PINNED = 'SECURITY DEFINER SET search_path = pg_catalog, pg_temp';

/** The ledger's doors for the tenant's login: each runs as the admin, on the ledger only. */
export const LEDGER_FUNCTIONS = {
  /** Records a step if it is not recorded yet; true when it was not (the caller then applies it, in the same transaction). */
  claimStep: `${LEDGER}.claim_step`,
  /** The ledger's one schema_state row (fingerprint, definition as text), or no row before the first deploy. */
  schemaState: `${LEDGER}.current_schema_state`,
  /** Sets the schema_state row. */
  recordSchemaState: `${LEDGER}.record_schema_state`,
} as const;

const LEDGER_FUNCTION_DDL: readonly string[] = [
  `CREATE OR REPLACE FUNCTION ${LEDGER_FUNCTIONS.claimStep}(step_id text, summary text, plan_to text) RETURNS boolean
     LANGUAGE sql ${PINNED} AS $$
       WITH claimed AS (
         INSERT INTO ${APPLIED_MIGRATIONS_TABLE} (step_id, summary, plan_to) VALUES ($1, $2, $3)
         ON CONFLICT (step_id) DO NOTHING RETURNING 1
       ) SELECT pg_catalog.count(*) > 0 FROM claimed
     $$`,
  `CREATE OR REPLACE FUNCTION ${LEDGER_FUNCTIONS.schemaState}() RETURNS TABLE (fingerprint text, definition text)
     LANGUAGE sql STABLE ${PINNED} AS $$
       SELECT fingerprint, definition::text FROM ${SCHEMA_STATE_TABLE}
     $$`,
  `CREATE OR REPLACE FUNCTION ${LEDGER_FUNCTIONS.recordSchemaState}(fingerprint text, definition json) RETURNS void
     LANGUAGE sql ${PINNED} AS $$
       INSERT INTO ${SCHEMA_STATE_TABLE} (singleton, fingerprint, definition) VALUES (true, $1, $2)
       ON CONFLICT (singleton) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, definition = EXCLUDED.definition, updated_at = pg_catalog.now()
     $$`,
];

/** The ledger, its functions, and what the tenant's role may do with them (call the functions, nothing else). */
function ledgerStatements(role: string): string[] {
  const tenant = quoteIdent(role);
  const functions = [`${LEDGER_FUNCTIONS.claimStep}(text, text, text)`, `${LEDGER_FUNCTIONS.schemaState}()`, `${LEDGER_FUNCTIONS.recordSchemaState}(text, json)`];
  return [
    ...LEDGER_DDL,
    ...LEDGER_FUNCTION_DDL,
    `REVOKE ALL ON SCHEMA ${LEDGER} FROM PUBLIC`,
    `REVOKE ALL ON ${APPLIED_MIGRATIONS_TABLE}, ${SCHEMA_STATE_TABLE} FROM PUBLIC, ${tenant}`,
    `GRANT USAGE ON SCHEMA ${LEDGER} TO ${tenant}`,
    ...functions.map((fn) => `REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`),
    ...functions.map((fn) => `GRANT EXECUTE ON FUNCTION ${fn} TO ${tenant}`),
  ];
}

/**
 * Creates or updates the ledger in the tenant's database, on the admin's login, under the schema
 * lock. Every statement names platform-owned objects only (nothing the tenant made can fire), with
 * the search_path pinned to pg_catalog.
 */
export async function ensureLedger(sql: SqlPort, names: TenantResourceNames): Promise<void> {
  await sql.transaction(
    async (tx) => {
      await tx.query('SET LOCAL search_path = pg_catalog, pg_temp');
      await tx.query(`SELECT pg_catalog.pg_advisory_xact_lock(${TENANT_SCHEMA_LOCK})`);
      for (const statement of ledgerStatements(names.role)) await tx.query(statement);
    },
    { database: names.database },
  );
}

/** The same statements, for a caller already in a transaction on the tenant's database with the lock held (restore). */
export async function ensureLedgerIn(tx: { query(sql: string): Promise<unknown> }, role: string): Promise<void> {
  for (const statement of ledgerStatements(role)) await tx.query(statement);
}
