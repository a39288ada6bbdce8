import middy from '@middy/core';
import type { MigrationResult } from '../deploy/apply-migrations.js';
import type { MigrateInput } from '../deploy/deploy-input.js';
import { migrateTenantDatabase } from '../deploy/migrate-tenant.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type MigrateOutcome = MigrationResult & { summaries: string[]; skipped?: string };

export async function migrate(event: MigrateInput): Promise<MigrateOutcome> {
  const { sql, secrets } = ports();
  const result = await migrateTenantDatabase(event, sql, secrets);
  return result.applied.length === 0 ? { ...result, skipped: 'the schema already matches the definition' } : result;
}

export const handler = middy<MigrateInput, MigrateOutcome>().use(trackStep('Migrate')).handler(migrate);
