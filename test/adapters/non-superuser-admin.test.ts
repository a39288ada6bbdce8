/**
 * The README lets DATABASE_URL be "a login that may create databases and roles": not a superuser,
 * as on RDS or Aurora. Provisioning, migrating, backing up and restoring must work with one.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { parseAppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { planMigration } from '../../lambdas/app-definition/migration-plan.js';
import { backupTenant } from '../../lambdas/backup/backup-tenant.js';
import { restoreTenant } from '../../lambdas/backup/restore-tenant.js';
import { applyMigrations } from '../../lambdas/deploy/apply-migrations.js';
import { parseProvisionRequest, planTenant } from '../../lambdas/domain/tenant-plan.js';
import type { PlatformConfig } from '../../lambdas/ports/index.js';
import { ensureTenantDatabase, removeTenantDatabase } from '../../lambdas/provision/tenant-database.js';
import { FolderBackupStore } from '../../local/adapters/folder-backup-store.js';
import { PgSql } from '../../local/adapters/pg-sql.js';
import { dropTestDatabases } from '../support/databases.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { TEST_DATABASE_URL, uniqueEnvironment } from '../support/services.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('an admin login that is not a superuser (CREATEDB CREATEROLE)', () => {
  const environment = uniqueEnvironment('nsu');
  const adminRole = `hp_${environment}_admin`;
  const plan = planTenant(parseProvisionRequest({ tenantId: 'books' }), environment, 'local');
  const config: PlatformConfig = { environment, cells: [], databaseEndpoint: { host: '127.0.0.1', port: 5432 } };
  const secrets = new MemorySecrets();
  let sql: PgSql;
  let storeDir: string;

  beforeAll(async () => {
    const superuser = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await superuser.connect();
    await superuser.query(`CREATE ROLE "${adminRole}" LOGIN CREATEDB CREATEROLE NOSUPERUSER`);
    await superuser.end();
    const url = new URL(TEST_DATABASE_URL);
    url.username = adminRole;
    sql = new PgSql({ connectionString: url.toString(), defaultDatabase: url.pathname.slice(1) || 'postgres' });
    storeDir = await mkdtemp(join(tmpdir(), 'hostplane-nsu-'));
  });

  afterAll(async () => {
    await sql?.close();
    await dropTestDatabases(`hp_${environment}_`);
    await rm(storeDir, { recursive: true, force: true });
  });

  it('provisions the database, migrates it as the tenant, backs it up, restores it and removes it', async () => {
    await ensureTenantDatabase(plan, sql, secrets, config);
    const bookshop = parseAppDefinition(JSON.parse(readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8')));
    await applyMigrations(sql, secrets, plan.names, planMigration(null, bookshop, { allowDestructive: false }), { definition: bookshop });
    await sql.query(`INSERT INTO "app"."book" (title) VALUES ('Dune')`, {}, { database: plan.names.database });

    const owner = await sql.query<{ owner: string }>(
      `SELECT tableowner AS owner FROM pg_tables WHERE schemaname = 'app' AND tablename = 'book'`,
      {},
      { database: plan.names.database },
    );
    expect(owner.rows[0]?.owner).toBe(plan.names.role);

    const store = new FolderBackupStore(storeDir);
    await backupTenant({ sql, secrets, store, names: plan.names, tenantId: 'books', backupId: 'bk-1', prefix: 'nsu/books/bk-1', reason: 'manual' });
    await sql.query(`DELETE FROM "app"."book"`, {}, { database: plan.names.database });
    const restored = await restoreTenant({ sql, store, names: plan.names, prefix: 'nsu/books/bk-1' });
    expect(restored.entities).toEqual(expect.arrayContaining([{ entity: 'book', rows: 1 }]));

    await sql.close(plan.names.database);
    expect(await removeTenantDatabase(plan.names, sql, secrets)).toBe(true);
  });
});
