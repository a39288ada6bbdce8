import type { AppDefinition } from '../app-definition/app-definition-schema.js';
import { definitionFingerprint, type MigrationPlan } from '../app-definition/migration-plan.js';
import { ConflictError } from '../domain/errors.js';
import type { TenantResourceNames } from '../domain/naming.js';
import { quoteIdent, type SqlPort } from '../ports/sql.js';
import { APPLIED_MIGRATIONS_TABLE, LEDGER_DDL, SCHEMA_STATE_TABLE, TENANT_SCHEMA_LOCK } from './tenant-ledger.js';

export { LEDGER_SCHEMA, SCHEMA_STATE_TABLE } from './tenant-ledger.js';

export interface MigrationResult {
  readonly applied: readonly string[];
  /** Steps found already recorded (a retry after a lost answer). */
  readonly alreadyApplied: readonly string[];
}

/**
 * Applies a migration plan to the tenant's database in one transaction: every statement runs as
 * the tenant's role (so the tenant owns what it creates), and each step's id is recorded in the
 * same transaction, so a retry never applies a step twice and a failure leaves nothing half-done.
 */
export async function applyMigrations(
  sql: SqlPort,
  names: TenantResourceNames,
  plan: MigrationPlan,
  /** The definition the plan migrates to: recorded in the same transaction, after checking the plan starts where the schema is. */
  record?: { readonly definition: AppDefinition },
): Promise<MigrationResult> {
  const inTenantDb = { database: names.database };
  for (const statement of LEDGER_DDL) await sql.query(statement, {}, inTenantDb);
  return sql.transaction(async (tx) => {
    // One migrator per tenant database at a time.
    await tx.query('SELECT pg_advisory_xact_lock(:lock)', { lock: TENANT_SCHEMA_LOCK });
    const { rows } = await tx.query<{ step_id: string }>(`SELECT step_id FROM ${APPLIED_MIGRATIONS_TABLE}`);
    const done = new Set(rows.map((row) => row.step_id));
    if (record) {
      const state = await tx.query<{ fingerprint: string }>(`SELECT fingerprint FROM ${SCHEMA_STATE_TABLE}`);
      const at = state.rows[0]?.fingerprint ?? null;
      // A retry after the commit finds the schema already at `to`: nothing left to apply.
      if (at === plan.to) return { applied: [], alreadyApplied: plan.steps.map((step) => step.id) };
      if (at !== plan.from) {
        throw new ConflictError('the tenant schema changed since this migration was planned; deploy again to plan from where it is now');
      }
    }
    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const step of plan.steps) {
      if (done.has(step.id)) {
        alreadyApplied.push(step.id);
        continue;
      }
      await tx.query(`SET LOCAL ROLE ${quoteIdent(names.role)}`);
      await tx.query(step.sql);
      await tx.query('RESET ROLE');
      await tx.query(
        `INSERT INTO ${APPLIED_MIGRATIONS_TABLE} (step_id, summary, plan_to) VALUES (:id, :summary, :to)`,
        { id: step.id, summary: step.summary, to: plan.to },
      );
      applied.push(step.id);
    }
    if (record) {
      const to = definitionFingerprint(record.definition);
      if (to !== plan.to) throw new ConflictError('the migration plan was not made for this definition');
      await tx.query(
        `INSERT INTO ${SCHEMA_STATE_TABLE} (singleton, fingerprint, definition) VALUES (true, :to, CAST(:definition AS json))
         ON CONFLICT (singleton) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, definition = EXCLUDED.definition, updated_at = now()`,
        { to, definition: JSON.stringify(record.definition) },
      );
    }
    return { applied, alreadyApplied };
  }, inTenantDb);
}
