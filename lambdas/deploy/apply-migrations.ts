import type { AppDefinition } from '../app-definition/app-definition-schema.js';
import { definitionFingerprint, type MigrationPlan } from '../app-definition/migration-plan.js';
import { ConflictError } from '../domain/errors.js';
import type { TenantResourceNames } from '../domain/naming.js';
import type { SecretsPort } from '../ports/secrets.js';
import type { SqlPort } from '../ports/sql.js';
import { ensureLedger, LEDGER_FUNCTIONS, TENANT_SCHEMA_LOCK } from './tenant-ledger.js';
import { signInAsTenant } from './tenant-login.js';

export { LEDGER_SCHEMA, SCHEMA_STATE_TABLE } from './tenant-ledger.js';

export interface MigrationResult {
  readonly applied: readonly string[];
  /** Steps found already recorded (a retry after a lost answer). */
  readonly alreadyApplied: readonly string[];
}

/**
 * Applies a migration plan to the tenant's database in one transaction on the tenant's own login
 * (so the tenant owns what it creates, and whatever the tenant made that fires meanwhile, even a
 * deferred trigger at COMMIT, runs as the tenant and can never become the admin); each step is
 * claimed in the platform's ledger in the same transaction (through the ledger's functions), so a
 * retry never applies a step twice and a failure leaves nothing half-done.
 */
export async function applyMigrations(
  sql: SqlPort,
  secrets: SecretsPort,
  names: TenantResourceNames,
  plan: MigrationPlan,
  /** The definition the plan migrates to: recorded in the same transaction, after checking the plan starts where the schema is. */
  record?: { readonly definition: AppDefinition },
): Promise<MigrationResult> {
  if (record && definitionFingerprint(record.definition) !== plan.to) throw new ConflictError('the migration plan was not made for this definition');
  await ensureLedger(sql, names);
  const tenant = await signInAsTenant(sql, secrets, names);
  return tenant.transaction(async (tx) => {
    // One migrator per tenant database at a time.
    await tx.query(`SELECT pg_catalog.pg_advisory_xact_lock(${TENANT_SCHEMA_LOCK})`);
    if (record) {
      const state = await tx.query<{ fingerprint: string }>(`SELECT fingerprint FROM ${LEDGER_FUNCTIONS.schemaState}()`);
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
      const claimed = await tx.query<{ fresh: boolean }>(`SELECT ${LEDGER_FUNCTIONS.claimStep}(:id, :summary, :to) AS fresh`, {
        id: step.id,
        summary: step.summary,
        to: plan.to,
      });
      if (!claimed.rows[0]?.fresh) {
        alreadyApplied.push(step.id);
        continue;
      }
      await tx.query(step.sql);
      applied.push(step.id);
    }
    if (record) {
      await tx.query(`SELECT ${LEDGER_FUNCTIONS.recordSchemaState}(:to, CAST(:definition AS json))`, {
        to: plan.to,
        definition: JSON.stringify(record.definition),
      });
    }
    return { applied, alreadyApplied };
  }, { database: names.database });
}
