import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { confirmFinalBackup } from '../../lambdas/backup/confirm-final-backup.js';
import { ErrorNames } from '../../lambdas/domain/errors.js';
import { parseProvisionRequest, planTenant } from '../../lambdas/domain/tenant-plan.js';
import { migrateRegistry } from '../../lambdas/registry/migrations.js';
import type { PgSql } from '../../local/adapters/pg-sql.js';
import { createTestDatabase, dropTestDatabases } from '../support/databases.js';
import { uniqueEnvironment } from '../support/services.js';

describe('confirmFinalBackup (after the BackupTenant job stopped)', () => {
  const environment = uniqueEnvironment('cfb');
  const names = planTenant(parseProvisionRequest({ tenantId: 'leaving' }), environment, 'local').names;
  let sql: PgSql;

  beforeAll(async () => {
    sql = await createTestDatabase(`hp_${environment}_registry`);
    await migrateRegistry(sql);
  });

  afterAll(async () => {
    await sql?.close();
    await dropTestDatabases(`hp_${environment}`);
  });

  it('says there was nothing to back up when the tenant never had a database', async () => {
    await expect(confirmFinalBackup({ operationId: 'op-1', tenant: { tenantId: 'leaving', names: null } }, { sql })).resolves.toEqual({
      skipped: 'the tenant has no database to back up',
    });
  });

  it('says so too when the planned database is already gone (a deprovision run again)', async () => {
    await expect(confirmFinalBackup({ operationId: 'op-2', tenant: { tenantId: 'leaving', names } }, { sql })).resolves.toEqual({
      skipped: 'the tenant has no database to back up',
    });
  });

  it('fails the step, keeping the database, when the job stopped without recording a backup of a database that exists', async () => {
    await sql.query(`CREATE DATABASE "${names.database}"`);

    const outcome = confirmFinalBackup({ operationId: 'op-3', tenant: { tenantId: 'leaving', names } }, { sql });

    await expect(outcome).rejects.toMatchObject({ name: ErrorNames.permanent });
    await expect(outcome).rejects.toThrow('the BackupTenant job stopped without recording a final backup of leaving; its database is kept');
  });
});
