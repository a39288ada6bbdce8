import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { parseAppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { planMigration } from '../../lambdas/app-definition/migration-plan.js';
import { applyMigrations } from '../../lambdas/deploy/apply-migrations.js';
import { parseProvisionRequest, planTenant } from '../../lambdas/domain/tenant-plan.js';
import type { PlatformConfig } from '../../lambdas/ports/index.js';
import { ensureTenantDatabase } from '../../lambdas/provision/tenant-database.js';
import { PgSql } from '../../local/adapters/pg-sql.js';
import { dropTestDatabases } from '../support/databases.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { TEST_DATABASE_URL, uniqueEnvironment } from '../support/services.js';

describe('applying a migration plan to a provisioned tenant database', () => {
  const environment = uniqueEnvironment('mig');
  const sql = new PgSql({ connectionString: TEST_DATABASE_URL, defaultDatabase: 'postgres' });
  const secrets = new MemorySecrets();
  const config: PlatformConfig = { environment, cells: [], databaseEndpoint: { host: '127.0.0.1', port: 5432 } };
  const plan = planTenant(parseProvisionRequest({ tenantId: 'books' }), environment, 'local');
  let bookshop: ReturnType<typeof parseAppDefinition>;

  beforeAll(async () => {
    await ensureTenantDatabase(plan, sql, secrets, config);
    bookshop = parseAppDefinition(JSON.parse(await readFile('lambdas/app-definition/examples/bookshop.json', 'utf8')));
  });

  afterAll(async () => {
    await sql.close();
    await dropTestDatabases(`hp_${environment}_`);
  });

  it('creates the tables owned by the tenant, records each step, and skips them on a retry', async () => {
    const first = planMigration(null, bookshop, { allowDestructive: false });
    const applied = await applyMigrations(sql, secrets, plan.names, first);
    expect(applied.applied).toHaveLength(first.steps.length);
    const again = await applyMigrations(sql, secrets, plan.names, first);
    expect(again).toEqual({ applied: [], alreadyApplied: first.steps.map((s) => s.id) });

    const { rows } = await sql.query(
      `SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'app' ORDER BY tablename`,
      {},
      { database: plan.names.database },
    );
    expect(rows).toEqual([
      { tablename: 'book', tableowner: plan.names.role },
      { tablename: 'review', tableowner: plan.names.role },
    ]);
  });

  it("keeps the ledger out of the tenant login's reach", async () => {
    const secret = (await secrets.get(plan.names.databaseSecret))!;
    const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: secret.username, password: secret.password, database: secret.dbname });
    await client.connect();
    try {
      await client.query("INSERT INTO book (title) VALUES ('Dune')");
      await expect(client.query('SELECT * FROM hostplane.applied_migrations')).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }
  });

  it('rolls a failing plan back whole', async () => {
    const next = parseAppDefinition({
      ...bookshop,
      entities: bookshop.entities.map((e) =>
        e.name === 'book' ? { ...e, fields: [...e.fields, { name: 'isbn', type: 'string' }, { name: 'pages2', type: 'integer' }] } : e,
      ),
    });
    const plan2 = planMigration(bookshop, next, { allowDestructive: false });
    const broken = { ...plan2, steps: [...plan2.steps, { ...plan2.steps[0]!, id: 'broken', sql: 'SELECT no_such_function()' }] };
    await expect(applyMigrations(sql, secrets, plan.names, broken)).rejects.toThrow(/no_such_function/);
    const { rows } = await sql.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'book' AND column_name = 'isbn'`,
      {},
      { database: plan.names.database },
    );
    expect(rows).toEqual([]);
    expect((await applyMigrations(sql, secrets, plan.names, plan2)).applied).toHaveLength(plan2.steps.length);
  });
});
