import { parseAppDefinition, type AppDefinition } from '../app-definition/app-definition-schema.js';
import { planMigration, type MigrationPlan } from '../app-definition/migration-plan.js';
import type { TenantResourceNames } from '../domain/naming.js';
import type { SqlPort } from '../ports/sql.js';
import { SCHEMA_STATE_TABLE } from './apply-migrations.js';

const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA_NAME = '3F000';

/** The definition the tenant's schema was last migrated to, read from its own database; null before the first deploy. */
export async function deployedDefinition(sql: SqlPort, names: TenantResourceNames): Promise<AppDefinition | null> {
  try {
    const { rows } = await sql.query<{ definition: string }>(`SELECT definition FROM ${SCHEMA_STATE_TABLE}`, {}, { database: names.database });
    return rows[0] ? parseAppDefinition(JSON.parse(rows[0].definition)) : null;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === UNDEFINED_TABLE || code === INVALID_SCHEMA_NAME) return null;
    throw error;
  }
}

/** Plans the migration from the tenant's schema to `next`; refuses destructive changes unless allowed (MigrationRefusedError). */
export async function planTenantMigration(
  sql: SqlPort,
  names: TenantResourceNames,
  next: AppDefinition,
  { allowDestructive }: { allowDestructive: boolean },
): Promise<MigrationPlan> {
  return planMigration(await deployedDefinition(sql, names), next, { allowDestructive, schema: names.schema });
}
