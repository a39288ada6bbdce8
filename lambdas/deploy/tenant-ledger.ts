import { quoteIdent } from '../ports/sql.js';

/**
 * The platform's ledger in each tenant database: a schema the tenant's login cannot use, holding
 * the migration steps applied and the definition the tenant's schema is at. Migrations and
 * restores both write it, under the same lock.
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
