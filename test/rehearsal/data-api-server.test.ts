/**
 * The Data API emulator, driven by the real RDSDataClient and the real cloud SQL adapter over the
 * machine's PostgreSQL, signed in as an Aurora-like admin (CREATEDB CREATEROLE, not a superuser).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  ExecuteStatementCommand,
  RDSDataClient,
  TransactionNotFoundException,
} from '@aws-sdk/client-rds-data';
import { RdsDataSql, ResultTooLargeError, SqlStatementError } from '../../cloud/adapters/rds-data-sql.js';
import { parseAppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { planMigration } from '../../lambdas/app-definition/migration-plan.js';
import { applyMigrations } from '../../lambdas/deploy/apply-migrations.js';
import { ConflictError, PermanentError } from '../../lambdas/domain/errors.js';
import { parseProvisionRequest, planTenant } from '../../lambdas/domain/tenant-plan.js';
import type { PlatformConfig } from '../../lambdas/ports/index.js';
import { ensureTenantDatabase, removeTenantDatabase, tenantDatabaseExists } from '../../lambdas/provision/tenant-database.js';
import { migrateRegistry, REGISTRY_MIGRATIONS } from '../../lambdas/registry/migrations.js';
import { TenantRegistry } from '../../lambdas/registry/tenant-registry.js';
import { ensureAuroraLikeAdmin, startDataApiServer, type DataApiServer } from '../../rehearsal/emulators/data-api-server.js';
import { dropTestDatabases, withAdmin } from '../support/databases.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pollUntil } from '../support/poll.js';
import { TEST_DATABASE_URL, uniqueEnvironment } from '../support/services.js';

const environment = uniqueEnvironment('dapi');
const admin = { username: `hp_${environment}_admin`, password: randomBytes(18).toString('base64url') };
const registryDatabase = `hp_${environment}_registry`;
const resourceArn = 'arn:aws:rds:eu-west-1:123456789012:cluster:hp-rehearsal';
const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hp-rehearsal-admin-AbCdEf';
/** The emulator's secrets by ARN: the admin's, and each tenant's once provisioned (migrations sign in as the tenant). */
const logins: Record<string, { username: string; password: string }> = { [secretArn]: admin };
const pgServer = new URL(TEST_DATABASE_URL);
const pgHost = pgServer.hostname;
const pgPort = Number(pgServer.port || 5432);

function dataApiClient(endpoint: string): RDSDataClient {
  return new RDSDataClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIAREHEARSAL', secretAccessKey: 'rehearsal' },
    maxAttempts: 1,
  });
}

describe('the Data API emulator', () => {
  let server: DataApiServer;
  let client: RDSDataClient;
  /** The adapter on Aurora's default database, as the admin path that creates databases uses it. */
  let adminSql: RdsDataSql;
  /** The adapter on the registry database, as the control plane's Lambdas use it. */
  let registrySql: RdsDataSql;

  beforeAll(async () => {
    await ensureAuroraLikeAdmin({ connectionString: TEST_DATABASE_URL }, admin);
    server = await startDataApiServer({ host: pgHost, port: pgPort, secrets: logins, resourceArn });
    client = dataApiClient(server.endpoint);
    adminSql = new RdsDataSql({ client, resourceArn, secretArn, database: 'postgres' });
    registrySql = new RdsDataSql({ client, resourceArn, secretArn, database: registryDatabase });
  });

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
    await dropTestDatabases(`hp_${environment}_`);
  });

  it('signs in as an admin that may create databases and roles but is no superuser, and creates a database', async () => {
    const { rows } = await adminSql.query('SELECT current_user AS login, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user');
    await adminSql.query(`CREATE DATABASE "${registryDatabase}"`);

    expect(rows).toEqual([{ login: admin.username, rolsuper: false, rolcreatedb: true, rolcreaterole: true }]);
    const created = await adminSql.query('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = :name', { name: registryDatabase });
    expect(created.rows).toEqual([{ owner: admin.username }]);
  });

  it('runs the registry migrations through the Data API, and finds nothing to do the second time', async () => {
    const applied = await migrateRegistry(registrySql);
    const again = await migrateRegistry(registrySql);

    expect(applied).toEqual(REGISTRY_MIGRATIONS.map((migration) => migration.version));
    expect(again).toEqual([]);
  });

  it('writes and reads the registry with strings, numbers, NULLs, JSON and timestamps typed as the local adapter types them', async () => {
    const registry = new TenantRegistry(registrySql);
    await registry.insertTenant({ tenantId: 'acme', displayName: 'Acme', tier: 'pooled', status: 'PROVISIONING' });
    const operation = { operationId: 'op-1', tenantId: 'acme', kind: 'provision' as const, input: { memoryMb: 512 }, requestedBy: 'ops', idempotencyKey: 'key-1' };
    await registry.insertOperation(operation);
    const stepId = await registry.stepStarted('op-1', 'CreateTenantDatabase');
    await registry.stepFinished(stepId, 'SUCCEEDED', { detail: 'created' });

    const { rows } = await registrySql.query(
      `SELECT t.tenant_id, t.url, o.input, o.started_at, s.step_id, s.ended_at IS NOT NULL AS ended,
              :count::int4 AS count, :ratio AS ratio, :flag AS flag, :nothing::text AS nothing, :big AS big
         FROM tenants t JOIN operations o USING (tenant_id) JOIN operation_steps s USING (operation_id)
        WHERE t.tenant_id = :tenantId`,
      { tenantId: 'acme', count: 7, ratio: 0.25, flag: true, nothing: null, big: 2 ** 53 + 2 },
    );

    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ tenant_id: 'acme', url: null, step_id: stepId, ended: true, count: 7, ratio: 0.25, flag: true, nothing: null });
    expect(JSON.parse(String(row.input))).toEqual({ memoryMb: 512 });
    expect(row.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(String(row.started_at)) - Date.now())).toBeLessThan(60_000);
    // An integer past 2^53 goes as a double (the adapter's choice), and comes back as the double it was.
    expect(row.big).toBe(2 ** 53 + 2);
    expect((await registry.getTenant('acme'))?.status).toBe('PROVISIONING');
  });

  it('surfaces a unique violation with its SQLSTATE, and the registry turns it into a conflict', async () => {
    const duplicate = await registrySql
      .query(`INSERT INTO tenants (tenant_id, display_name, tier, status) VALUES ('acme', 'Acme', 'pooled', 'ACTIVE')`)
      .catch((error: unknown) => error);
    const registry = new TenantRegistry(registrySql);
    const sameKey = registry.insertOperation({ operationId: 'op-2', tenantId: 'acme', kind: 'provision', input: {}, requestedBy: 'ops', idempotencyKey: 'key-1' });

    expect(duplicate).toBeInstanceOf(SqlStatementError);
    expect(duplicate).toMatchObject({ code: '23505' });
    expect((duplicate as Error).message).toMatch(/duplicate key value violates unique constraint "tenants_pkey"; Detail: Key \(tenant_id\)=\(acme\) already exists\.; SQLState: 23505$/);
    await expect(sameKey).rejects.toBeInstanceOf(ConflictError);
  });

  it('commits one transaction and rolls back another, leaving no transaction open', async () => {
    await registrySql.transaction(async (tx) => {
      await tx.query(`INSERT INTO audit_events (actor, action, tenant_id) VALUES ('ops', 'committed', :tenantId)`, { tenantId: 'acme' });
      await tx.query(`INSERT INTO audit_events (actor, action, tenant_id) VALUES ('ops', 'committed too', :tenantId)`, { tenantId: 'acme' });
    });
    const failure = new Error('the plan no longer fits the cell');
    const rolledBack = registrySql.transaction(async (tx) => {
      await tx.query(`INSERT INTO audit_events (actor, action, tenant_id) VALUES ('ops', 'rolled back', :tenantId)`, { tenantId: 'acme' });
      throw failure;
    });
    const failedStatement = registrySql.transaction(async (tx) => {
      await tx.query(`INSERT INTO audit_events (actor, action, tenant_id) VALUES ('ops', 'before the failure', :tenantId)`, { tenantId: 'acme' });
      await tx.query(`INSERT INTO tenants (tenant_id, display_name, tier, status) VALUES ('acme', 'Acme', 'pooled', 'ACTIVE')`);
    });

    await expect(rolledBack).rejects.toBe(failure);
    await expect(failedStatement).rejects.toMatchObject({ code: '23505' });
    const { rows } = await registrySql.query(`SELECT action FROM audit_events WHERE tenant_id = :tenantId ORDER BY event_id`, { tenantId: 'acme' });
    expect(rows.map((row) => row.action)).toEqual(['committed', 'committed too']);
    expect(server.openTransactions()).toBe(0);
  });

  it('provisions a tenant database and role, migrates it as the tenant and removes it, all through the Data API', async () => {
    const plan = planTenant(parseProvisionRequest({ tenantId: 'books' }), environment, 'local');
    const config: PlatformConfig = { environment, cells: [], databaseEndpoint: { host: pgHost, port: pgPort } };
    const secrets = new MemorySecrets();
    const bookshop = parseAppDefinition(
      JSON.parse(readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8')),
    );

    await ensureTenantDatabase(plan, adminSql, secrets, config);
    await ensureTenantDatabase(plan, adminSql, secrets, config);
    const tenantSecret = (await secrets.get(plan.names.databaseSecret))!;
    logins[plan.names.databaseSecret] = { username: tenantSecret.username!, password: tenantSecret.password! };
    await applyMigrations(adminSql, secrets, plan.names, planMigration(null, bookshop, { allowDestructive: false }), { definition: bookshop });
    const owner = await adminSql.query(`SELECT tableowner AS owner FROM pg_tables WHERE schemaname = 'app' AND tablename = 'book'`, {}, { database: plan.names.database });
    const removed = await removeTenantDatabase(plan.names, adminSql, secrets);

    expect(owner.rows).toEqual([{ owner: plan.names.role }]);
    expect(removed).toBe(true);
    expect(await tenantDatabaseExists(plan.names, adminSql)).toBe(false);
  });

  it('refuses a result past 1 MiB as the service does, and the adapter says to page', async () => {
    const error = await registrySql.query(`SELECT repeat('x', 1024) AS filler FROM generate_series(1, 1100)`).catch((e: unknown) => e);
    const fits = await registrySql.query(`SELECT repeat('x', 1024) AS filler FROM generate_series(1, 900)`);

    expect(error).toBeInstanceOf(ResultTooLargeError);
    expect(error).toBeInstanceOf(PermanentError);
    expect(fits.rowCount).toBe(900);
  });

  it('answers an unknown transaction with TransactionNotFoundException (404)', async () => {
    const transactionId = 'AQC5SRDIm-not-a-transaction';
    const execute = await client
      .send(new ExecuteStatementCommand({ resourceArn, secretArn, sql: 'SELECT 1', transactionId }))
      .catch((e: unknown) => e);
    const commit = await client.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId })).catch((e: unknown) => e);

    for (const error of [execute, commit]) {
      expect(error).toBeInstanceOf(TransactionNotFoundException);
      expect(error).toMatchObject({ message: `Transaction ${transactionId} is not found`, $metadata: { httpStatusCode: 404 } });
    }
  });

  it('forgets a transaction left idle past its timeout, rolling it back', async () => {
    const shortLived = await startDataApiServer({ host: pgHost, port: pgPort, secrets: { [secretArn]: admin }, transactionIdleTimeoutMs: 300 });
    const shortClient = dataApiClient(shortLived.endpoint);
    try {
      const { transactionId } = await shortClient.send(new BeginTransactionCommand({ resourceArn, secretArn, database: registryDatabase }));
      await shortClient.send(
        new ExecuteStatementCommand({ resourceArn, secretArn, transactionId, sql: `INSERT INTO audit_events (actor, action) VALUES ('ops', 'abandoned')` }),
      );
      await pollUntil(() => (shortLived.openTransactions() === 0 ? true : undefined), { timeoutMs: 10_000, what: 'the idle transaction to expire' });

      await expect(shortClient.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId }))).rejects.toBeInstanceOf(
        TransactionNotFoundException,
      );
      const { rows } = await registrySql.query(`SELECT count(*)::int4 AS n FROM audit_events WHERE action = 'abandoned'`);
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      shortClient.destroy();
      await shortLived.stop();
    }
  });

  it('cancels a statement past the call timeout, and lets one run on when the call continues after timeout', async () => {
    const impatient = await startDataApiServer({ host: pgHost, port: pgPort, secrets: { [secretArn]: admin }, callTimeoutMs: 300 });
    const impatientClient = dataApiClient(impatient.endpoint);
    const call = (sql: string, continueAfterTimeout: boolean) =>
      impatientClient.send(new ExecuteStatementCommand({ resourceArn, secretArn, database: registryDatabase, sql, continueAfterTimeout }));
    try {
      const cancelled = await call(`INSERT INTO audit_events (actor, action) SELECT 'ops', 'cancelled' FROM pg_sleep(1)`, false).catch((e: unknown) => e);
      const continued = await call(`INSERT INTO audit_events (actor, action) SELECT 'ops', 'continued' FROM pg_sleep(0.8)`, true).catch((e: unknown) => e);

      expect(cancelled).toMatchObject({ name: 'StatementTimeoutException' });
      expect(continued).toMatchObject({ name: 'StatementTimeoutException' });
      const actions = await pollUntil(
        async () => {
          const { rows } = await registrySql.query(`SELECT action FROM audit_events WHERE action IN ('cancelled', 'continued')`);
          return rows.length > 0 ? rows.map((row) => row.action) : undefined;
        },
        { timeoutMs: 10_000, what: 'the statement that continued after its timeout to finish' },
      );
      expect(actions).toEqual(['continued']);
    } finally {
      impatientClient.destroy();
      await impatient.stop();
    }
  });

  describe('with the raw RDSDataClient', () => {
    beforeAll(async () => {
      await registrySql.query(`CREATE TABLE typed (
        id bigserial PRIMARY KEY, label text, n int4, big int8, ratio float8, price numeric(10,2), flag bool,
        at timestamptz, local_at timestamp, day date, clock time, doc jsonb, ref uuid, bytes bytea, tags text[], counts int4[])`);
    });

    it('binds every parameter type and typeHint, and answers typed fields with column metadata', async () => {
      const bytes = Buffer.from([0, 1, 2, 250, 255]);
      await client.send(
        new ExecuteStatementCommand({
          resourceArn,
          secretArn,
          database: registryDatabase,
          sql: `INSERT INTO typed (label, n, big, ratio, price, flag, at, local_at, day, clock, doc, ref, bytes, tags, counts)
                VALUES (:label, :n, :big, :ratio, :price, :flag, :at::timestamptz, :localAt, :day, :clock, :doc, :ref, :bytes,
                        '{a,"b c",NULL}', '{1,2,3}')`,
          parameters: [
            { name: 'label', value: { stringValue: "it's :not a parameter" } },
            { name: 'n', value: { longValue: 42 } },
            { name: 'big', value: { longValue: 9_007_199_254_740_991 } },
            { name: 'ratio', value: { doubleValue: 1.5 } },
            { name: 'price', value: { stringValue: '12.50' }, typeHint: 'DECIMAL' },
            { name: 'flag', value: { booleanValue: true } },
            { name: 'at', value: { stringValue: '2026-11-23T16:11:20.123456+02:00' } },
            { name: 'localAt', value: { stringValue: '2026-11-23 14:11:20.5' }, typeHint: 'TIMESTAMP' },
            { name: 'day', value: { stringValue: '2026-11-23' }, typeHint: 'DATE' },
            { name: 'clock', value: { stringValue: '14:11:20' }, typeHint: 'TIME' },
            { name: 'doc', value: { stringValue: '{"memoryMb": 512}' }, typeHint: 'JSON' },
            { name: 'ref', value: { stringValue: '6f1c2d9e-4b7a-4c1e-9a3f-2d5e8b7c6a10' }, typeHint: 'UUID' },
            { name: 'bytes', value: { blobValue: bytes } },
          ],
        }),
      );
      await client.send(
        new ExecuteStatementCommand({ resourceArn, secretArn, database: registryDatabase, sql: 'INSERT INTO typed (label) VALUES (:label)', parameters: [{ name: 'label', value: { isNull: true } }] }),
      );

      const read = await client.send(
        new ExecuteStatementCommand({
          resourceArn,
          secretArn,
          database: registryDatabase,
          sql: `SELECT label, n, big, ratio, price, flag, at, local_at, day, clock, doc, ref, bytes, tags, counts
                  FROM typed /* :notAParameter */ ORDER BY id -- :nor this`,
          includeResultMetadata: true,
        }),
      );
      const asStrings = await client.send(
        new ExecuteStatementCommand({
          resourceArn,
          secretArn,
          database: registryDatabase,
          sql: 'SELECT big, price FROM typed ORDER BY id LIMIT 1',
          resultSetOptions: { longReturnType: 'STRING', decimalReturnType: 'DOUBLE_OR_LONG' },
        }),
      );

      expect(read.records![0]).toEqual([
        { stringValue: "it's :not a parameter" },
        { longValue: 42 },
        { longValue: 9_007_199_254_740_991 },
        { doubleValue: 1.5 },
        { stringValue: '12.50' },
        { booleanValue: true },
        { stringValue: '2026-11-23 14:11:20.123456' },
        { stringValue: '2026-11-23 14:11:20.5' },
        { stringValue: '2026-11-23' },
        { stringValue: '14:11:20' },
        { stringValue: '{"memoryMb": 512}' },
        { stringValue: '6f1c2d9e-4b7a-4c1e-9a3f-2d5e8b7c6a10' },
        { blobValue: new Uint8Array(bytes) },
        { arrayValue: { stringValues: ['a', 'b c', null] } },
        { arrayValue: { longValues: [1, 2, 3] } },
      ]);
      expect(read.records![1]![0]).toEqual({ isNull: true });
      expect(read.numberOfRecordsUpdated).toBe(0);
      expect(read.columnMetadata!.map((column) => [column.label, column.typeName])).toEqual([
        ['label', 'text'], ['n', 'int4'], ['big', 'int8'], ['ratio', 'float8'], ['price', 'numeric'], ['flag', 'bool'],
        ['at', 'timestamptz'], ['local_at', 'timestamp'], ['day', 'date'], ['clock', 'time'], ['doc', 'jsonb'], ['ref', 'uuid'],
        ['bytes', 'bytea'], ['tags', '_text'], ['counts', '_int4'],
      ]);
      expect(read.columnMetadata![4]).toMatchObject({ precision: 10, scale: 2, type: 2 });
      expect(asStrings.records).toEqual([[{ stringValue: '9007199254740991' }, { doubleValue: 12.5 }]]);
    });

    it('binds an unhinted string as varchar, so a jsonb column needs a cast or a JSON hint, as on Aurora', async () => {
      const error = await client
        .send(
          new ExecuteStatementCommand({
            resourceArn,
            secretArn,
            database: registryDatabase,
            sql: 'INSERT INTO typed (doc) VALUES (:doc)',
            parameters: [{ name: 'doc', value: { stringValue: '{}' } }],
          }),
        )
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(DatabaseErrorException);
      expect(error).toMatchObject({ $metadata: { httpStatusCode: 400 } });
      expect((error as Error).message).toMatch(/^ERROR: column "doc" is of type jsonb but expression is of type character varying; Hint: .*; Position: \d+; SQLState: 42804$/);
    });

    it('formats records as JSON when asked, and counts updated records', async () => {
      const json = await client.send(
        new ExecuteStatementCommand({
          resourceArn,
          secretArn,
          database: registryDatabase,
          sql: 'SELECT n, flag, label, doc FROM typed ORDER BY id',
          formatRecordsAs: 'JSON',
        }),
      );
      const updated = await client.send(
        new ExecuteStatementCommand({ resourceArn, secretArn, database: registryDatabase, sql: `UPDATE typed SET label = 'seen'` }),
      );

      expect(json.records).toBeUndefined();
      expect(JSON.parse(json.formattedRecords!)).toEqual([
        { n: 42, flag: true, label: "it's :not a parameter", doc: '{"memoryMb": 512}' },
        { n: null, flag: null, label: null, doc: null },
      ]);
      expect(updated).toMatchObject({ numberOfRecordsUpdated: 2, generatedFields: [] });
      expect(updated.records).toBeUndefined();
    });

    it('runs a batch once per parameter set, all or nothing', async () => {
      const sets = ['one', 'two', 'three'].map((label) => [{ name: 'label', value: { stringValue: label } }]);
      const batch = await client.send(
        new BatchExecuteStatementCommand({ resourceArn, secretArn, database: registryDatabase, sql: 'INSERT INTO typed (label) VALUES (:label)', parameterSets: sets }),
      );
      const failing = client.send(
        new BatchExecuteStatementCommand({
          resourceArn,
          secretArn,
          database: registryDatabase,
          sql: 'INSERT INTO typed (id, label) VALUES (:id, :label)',
          parameterSets: [
            [{ name: 'id', value: { longValue: 1_000 } }, { name: 'label', value: { stringValue: 'kept?' } }],
            [{ name: 'id', value: { longValue: 1_000 } }, { name: 'label', value: { stringValue: 'duplicate' } }],
          ],
        }),
      );

      expect(batch.updateResults).toHaveLength(3);
      await expect(failing).rejects.toThrow(/SQLState: 23505$/);
      const { rows } = await registrySql.query(`SELECT label FROM typed WHERE label IN ('one', 'two', 'three', 'kept?') ORDER BY id`);
      expect(rows.map((row) => row.label)).toEqual(['one', 'two', 'three']);
    });

    it('refuses several statements in one call, an unsigned call and another cluster', async () => {
      const several = client
        .send(new ExecuteStatementCommand({ resourceArn, secretArn, database: registryDatabase, sql: 'SELECT 1; SELECT 2' }))
        .catch((e: unknown) => e);
      const otherCluster = client
        .send(new ExecuteStatementCommand({ resourceArn: `${resourceArn}-other`, secretArn, sql: 'SELECT 1' }))
        .catch((e: unknown) => e);
      const unsigned = await fetch(`${server.endpoint}/Execute`, { method: 'POST', body: JSON.stringify({ resourceArn, secretArn, sql: 'SELECT 1' }) });

      expect(await several).toMatchObject({ name: 'DatabaseErrorException', message: expect.stringMatching(/SQLState: 42601$/) });
      expect(await otherCluster).toMatchObject({ name: 'NotFoundException', $metadata: { httpStatusCode: 404 } });
      expect(unsigned.status).toBe(403);
      expect(unsigned.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    });
  });

  it('keeps a log of the calls it answered', () => {
    const operations = new Set(server.requests.map((request) => request.operation));

    expect(operations).toEqual(new Set(['ExecuteStatement', 'BeginTransaction', 'CommitTransaction', 'RollbackTransaction', 'BatchExecuteStatement']));
    expect(server.requests.some((request) => request.errorType === 'TransactionNotFoundException' && request.status === 404)).toBe(true);
  });

  it('leaves the admin a non-superuser throughout', async () => {
    const superuser = await withAdmin(undefined, (c) => c.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [admin.username]));
    expect(superuser.rows).toEqual([{ rolsuper: false }]);
  });
});
