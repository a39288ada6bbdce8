import { describe, it, expect, beforeEach, jest } from '@jest/globals';
import {
  AccessDeniedException,
  BadRequestException,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  DatabaseResumingException,
  ExecuteStatementCommand,
  RDSDataClient,
  RDSDataServiceException,
  RollbackTransactionCommand,
  ServiceUnavailableError,
  StatementTimeoutException,
  TransactionNotFoundException,
  type ColumnMetadata,
  type ExecuteStatementCommandOutput,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { deployedDefinition } from '../../lambdas/deploy/tenant-schema.js';
import { tenantResourceNames } from '../../lambdas/domain/naming.js';
import { tenantIdSchema } from '../../lambdas/domain/tenant-id.js';
import { ConflictError, ErrorNames, PermanentError, TransientError } from '../../lambdas/domain/errors.js';
import type { SqlExecutor, SqlParams, SqlOptions, SqlResult, SqlRow } from '../../lambdas/ports/sql.js';
import { TenantRegistry } from '../../lambdas/registry/tenant-registry.js';
import { RdsDataSql, ResultTooLargeError, SqlStatementError } from '../../cloud/adapters/rds-data-sql.js';

const resourceArn = 'arn:aws:rds:eu-west-1:123456789012:cluster:hp-dev-c1';
const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hp-dev-c1-admin';
const database = 'hp_dev_registry';
const common = {
  resourceArn,
  secretArn,
  includeResultMetadata: true,
  resultSetOptions: { longReturnType: 'STRING', decimalReturnType: 'STRING' },
} as const;

const rds = mockClient(RDSDataClient);

function adapter(serverStatements?: SqlExecutor): RdsDataSql {
  return new RdsDataSql({ client: new RDSDataClient({ region: 'eu-west-1' }), resourceArn, secretArn, database, serverStatements });
}

function column(label: string, typeName: string): ColumnMetadata {
  return { name: label, label, typeName };
}

function resultSet(columns: ColumnMetadata[], records: ExecuteStatementCommandOutput['records']): Partial<ExecuteStatementCommandOutput> {
  return { columnMetadata: columns, records, numberOfRecordsUpdated: 0 };
}

function sqlError(
  Exception: typeof DatabaseErrorException | typeof BadRequestException,
  message: string,
): DatabaseErrorException | BadRequestException {
  return new Exception({ message, $metadata: { httpStatusCode: 400 } });
}

/** A stand-in for the pg connection the composition root passes for server-level statements. */
class RecordingExecutor implements SqlExecutor {
  readonly calls: { sql: string; params?: SqlParams; options?: SqlOptions }[] = [];
  async query<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams, options?: SqlOptions): Promise<SqlResult<R>> {
    this.calls.push({ sql, params, options });
    return { rows: [], rowCount: 0 };
  }
}

describe('RdsDataSql', () => {
  beforeEach(() => {
    rds.reset();
  });

  describe('query', () => {
    it('refuses a statement naming a parameter it was not given, before calling the Data API', async () => {
      await expect(adapter().query('UPDATE tenants SET tier = :tier WHERE tenant_id = :tenantId', { tenantId: 'acme' })).rejects.toThrow(
        'SQL parameter :tier has no value',
      );
      expect(rds).toHaveReceivedCommandTimes(ExecuteStatementCommand, 0);
    });

    it('sends each named parameter with its Data API type, against the default database', async () => {
      rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });

      await adapter().query('UPDATE tenants SET memory_mb = :memoryMb, ratio = :ratio, huge = :huge, active = :active, url = :url WHERE tenant_id = :tenantId', {
        tenantId: 'acme',
        memoryMb: 512,
        ratio: 0.25,
        huge: 2 ** 60,
        active: false,
        url: null,
      });

      expect(rds).toHaveReceivedCommandTimes(ExecuteStatementCommand, 1);
      expect(rds).toHaveReceivedCommandWith(ExecuteStatementCommand, {
        ...common,
        database,
        sql: 'UPDATE tenants SET memory_mb = :memoryMb, ratio = :ratio, huge = :huge, active = :active, url = :url WHERE tenant_id = :tenantId',
        parameters: [
          { name: 'tenantId', value: { stringValue: 'acme' } },
          { name: 'memoryMb', value: { longValue: 512 } },
          { name: 'ratio', value: { doubleValue: 0.25 } },
          { name: 'huge', value: { doubleValue: 2 ** 60 } },
          { name: 'active', value: { booleanValue: false } },
          { name: 'url', value: { isNull: true } },
        ],
      });
    });

    it('runs on the database the options name, with no parameters when there are none', async () => {
      rds.on(ExecuteStatementCommand).resolves(resultSet([column('one', 'int4')], [[{ longValue: 1 }]]));

      await adapter().query('SELECT 1 AS one', {}, { database: 'hp_dev_c1_acme' });

      const input = rds.commandCalls(ExecuteStatementCommand)[0]!.args[0].input;
      expect(input).toEqual({ ...common, database: 'hp_dev_c1_acme', sql: 'SELECT 1 AS one', parameters: undefined });
      expect(input.transactionId).toBeUndefined();
    });

    it('types each column as the local pg adapter does', async () => {
      rds.on(ExecuteStatementCommand).resolves(
        resultSet(
          [
            column('tenant_id', 'text'),
            column('memory_mb', 'int4'),
            column('step_id', 'int8'),
            column('big', 'int8'),
            column('active', 'bool'),
            column('created_at', 'timestamptz'),
            column('finished_at', 'timestamptz'),
            column('plan', 'jsonb'),
            column('definition', 'json'),
            column('price', 'numeric'),
            column('weight', 'float8'),
            column('url', 'text'),
            column('day', 'date'),
          ],
          [
            [
              { stringValue: 'acme' },
              { longValue: 512 },
              { stringValue: '42' },
              { stringValue: '9007199254740993' },
              { booleanValue: true },
              { stringValue: '2026-11-23 14:11:20.123456' },
              { stringValue: '2026-11-23 16:11:20+02' },
              { stringValue: '{"memoryMb": 512}' },
              { stringValue: '{"entities":[]}' },
              { stringValue: '12.50' },
              { doubleValue: 1.5 },
              { isNull: true },
              { stringValue: '2026-11-23' },
            ],
          ],
        ),
      );

      const { rows, rowCount } = await adapter().query('SELECT * FROM tenants');

      expect(rowCount).toBe(1);
      expect(rows).toEqual([
        {
          tenant_id: 'acme',
          memory_mb: 512,
          step_id: 42,
          big: '9007199254740993',
          active: true,
          created_at: '2026-11-23T14:11:20.123Z',
          finished_at: '2026-11-23T14:11:20.000Z',
          plan: '{"memoryMb": 512}',
          definition: '{"entities":[]}',
          price: 12.5,
          weight: 1.5,
          url: null,
          day: '2026-11-23',
        },
      ]);
    });

    it('counts the rows of a result set, and the changed rows of a statement without one', async () => {
      rds
        .on(ExecuteStatementCommand, { sql: 'SELECT 1 FROM pg_database WHERE datname = :database' })
        .resolves(resultSet([column('?column?', 'int4')], []))
        .on(ExecuteStatementCommand, { sql: "UPDATE tenants SET status = 'ACTIVE'" })
        .resolves({ numberOfRecordsUpdated: 3, records: [] });

      const none = await adapter().query('SELECT 1 FROM pg_database WHERE datname = :database', { database: 'hp_dev_c1_acme' });
      const updated = await adapter().query("UPDATE tenants SET status = 'ACTIVE'");

      expect(none).toEqual({ rows: [], rowCount: 0 });
      expect(updated).toEqual({ rows: [], rowCount: 3 });
    });
  });

  describe('errors', () => {
    it('surfaces a unique violation with the SQLSTATE in .code, as pg does', async () => {
      rds
        .on(ExecuteStatementCommand)
        .rejects(sqlError(DatabaseErrorException, 'ERROR: duplicate key value violates unique constraint "operations_running"; SQLState: 23505'));

      const error = await adapter()
        .query('INSERT INTO operations (tenant_id) VALUES (:tenantId)', { tenantId: 'acme' })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(SqlStatementError);
      expect(error).toMatchObject({ code: '23505', name: ErrorNames.permanent });
      expect((error as Error).message).toContain('duplicate key value violates unique constraint "operations_running"');
    });

    it('keeps the registry turning a conflicting insert into a conflict (ON CONFLICT DO NOTHING: no row, no aborted transaction)', async () => {
      // The INSERT … ON CONFLICT DO NOTHING RETURNING * answers no row; the running-operation lookup finds none either.
      rds.on(ExecuteStatementCommand).resolves(resultSet([column('operation_id', 'text')], []));

      const registry = new TenantRegistry(adapter());
      const attempt = registry.insertOperation({
        operationId: 'op-2',
        tenantId: 'acme',
        kind: 'provision',
        input: {},
        requestedBy: 'ops',
        idempotencyKey: 'key-1',
      });

      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      await expect(attempt).rejects.toThrow('this Idempotency-Key is already in use');
    });

    it("reads the SQLSTATE from the deprecated BadRequestException too, so a tenant's first deploy finds no schema", async () => {
      rds
        .on(ExecuteStatementCommand)
        .rejects(sqlError(BadRequestException, 'ERROR: relation "tenant_ledger.schema_state" does not exist; Position: 26; SQLState: 42P01'));
      const names = tenantResourceNames({ environment: 'dev', cell: 'c1' }, tenantIdSchema.parse('acme'));

      await expect(deployedDefinition(adapter(), names)).resolves.toBeNull();
      expect(rds).toHaveReceivedCommandWith(ExecuteStatementCommand, { database: names.database });
    });

    it('turns throttling into a transient error', async () => {
      rds.on(ExecuteStatementCommand).rejects(
        new RDSDataServiceException({
          name: 'ThrottlingException',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
          message: 'Rate exceeded',
        }),
      );

      const error = await adapter().query('SELECT 1').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(TransientError);
      expect((error as Error).message).toBe(`running SQL on ${database}: ThrottlingException: Rate exceeded`);
    });

    it('turns an Aurora Serverless v2 database waking from pause into a transient error', async () => {
      rds.on(ExecuteStatementCommand).rejects(
        new DatabaseResumingException({
          message: 'The Aurora DB instance db-1 is resuming after being auto-paused. Please wait a few seconds and try again.',
          $metadata: { httpStatusCode: 400 },
        }),
      );

      const error = await adapter().query('SELECT 1').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(TransientError);
      expect(error).toMatchObject({ name: ErrorNames.transient });
      expect((error as Error).message).toContain('DatabaseResumingException');
    });

    it.each([
      ['a statement timeout', new StatementTimeoutException({ message: 'Request timed out', $metadata: {} })],
      ['an unavailable service', new ServiceUnavailableError({ message: 'Service unavailable', $metadata: { httpStatusCode: 503 } })],
      ['a serialization failure', sqlError(DatabaseErrorException, 'ERROR: could not serialize access due to concurrent update; SQLState: 40001')],
    ])('turns %s into a transient error', async (_what, thrown) => {
      rds.on(ExecuteStatementCommand).rejects(thrown);

      await expect(adapter().query('SELECT 1')).rejects.toBeInstanceOf(TransientError);
    });

    it('names the 1 MiB limit when a result is too large', async () => {
      rds.on(ExecuteStatementCommand).rejects(sqlError(BadRequestException, 'Database returned more than the allowed response size limit'));

      const error = await adapter().query('SELECT * FROM events').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ResultTooLargeError);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toMatch(/larger than the 1 MiB the Data API returns; page the query/);
    });

    it('makes other AWS errors permanent', async () => {
      rds.on(ExecuteStatementCommand).rejects(new AccessDeniedException({ message: 'not allowed', $metadata: { httpStatusCode: 403 } }));

      const error = await adapter().query('SELECT 1').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PermanentError);
      expect(error).not.toHaveProperty('code');
    });
  });

  describe('transaction', () => {
    it('begins, runs each statement in the transaction, and commits', async () => {
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
      rds.on(ExecuteStatementCommand).resolves(resultSet([column('step_id', 'int8')], [[{ stringValue: '7' }]]));
      rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });

      const result = await adapter().transaction(
        async (tx) => {
          const { rows } = await tx.query<{ step_id: number }>('INSERT INTO steps (state) VALUES (:state) RETURNING step_id', {
            state: 'CreateTenantDatabase',
          });
          return rows[0]!.step_id;
        },
        { database: 'hp_dev_c1_acme' },
      );

      expect(result).toBe(7);
      expect(rds).toHaveReceivedCommandWith(BeginTransactionCommand, { resourceArn, secretArn, database: 'hp_dev_c1_acme' });
      expect(rds).toHaveReceivedCommandWith(ExecuteStatementCommand, {
        ...common,
        database: 'hp_dev_c1_acme',
        transactionId: 'tx-1',
        sql: 'INSERT INTO steps (state) VALUES (:state) RETURNING step_id',
        parameters: [{ name: 'state', value: { stringValue: 'CreateTenantDatabase' } }],
      });
      expect(rds).toHaveReceivedCommandWith(CommitTransactionCommand, { resourceArn, secretArn, transactionId: 'tx-1' });
      expect(rds).toHaveReceivedCommandTimes(RollbackTransactionCommand, 0);
    });

    it('rolls back when the work throws, and the work error surfaces', async () => {
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-2' });
      rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
      rds.on(RollbackTransactionCommand).resolves({ transactionStatus: 'Rollback Complete' });
      const failure = new Error('the plan no longer fits the cell');

      const run = adapter().transaction(async (tx) => {
        await tx.query("UPDATE tenants SET status = 'PROVISIONING'");
        throw failure;
      });

      await expect(run).rejects.toBe(failure);
      expect(rds).toHaveReceivedCommandWith(RollbackTransactionCommand, { resourceArn, secretArn, transactionId: 'tx-2' });
      expect(rds).toHaveReceivedCommandTimes(CommitTransactionCommand, 0);
    });

    it('surfaces a failed statement even when the Data API has already ended the transaction', async () => {
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-3' });
      rds
        .on(ExecuteStatementCommand)
        .rejects(sqlError(DatabaseErrorException, 'ERROR: duplicate key value violates unique constraint "tenants_pkey"; SQLState: 23505'));
      rds
        .on(RollbackTransactionCommand)
        .rejects(new TransactionNotFoundException({ message: 'Transaction tx-3 is not found', $metadata: { httpStatusCode: 404 } }));

      const error = await adapter()
        .transaction((tx) => tx.query('INSERT INTO tenants (tenant_id) VALUES (:tenantId)', { tenantId: 'acme' }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(SqlStatementError);
      expect(error).toMatchObject({ code: '23505' });
      expect(rds).toHaveReceivedCommandTimes(RollbackTransactionCommand, 1);
    });

    it('sends one statement at a time when the work runs several at once, as pg queues them', async () => {
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-4' });
      rds.on(CommitTransactionCommand).resolves({});
      const pending: (() => void)[] = [];
      rds.on(ExecuteStatementCommand).callsFake(
        () => new Promise<Partial<ExecuteStatementCommandOutput>>((resolve) => pending.push(() => resolve({ numberOfRecordsUpdated: 1 }))),
      );
      const turn = () => new Promise((resolve) => setImmediate(resolve));

      const run = adapter().transaction((tx) => Promise.all([tx.query('UPDATE a SET x = 1'), tx.query('UPDATE b SET x = 1')]));
      await turn();
      const sentWhileFirstRan = rds.commandCalls(ExecuteStatementCommand).length;
      pending.shift()!();
      await turn();
      pending.shift()!();
      await run;

      expect(sentWhileFirstRan).toBe(1);
      expect(rds).toHaveReceivedCommandTimes(ExecuteStatementCommand, 2);
      expect(rds).toHaveReceivedNthSpecificCommandWith(2, ExecuteStatementCommand, { sql: 'UPDATE b SET x = 1', transactionId: 'tx-4' });
      expect(rds).toHaveReceivedCommandTimes(CommitTransactionCommand, 1);
    });

    it('refuses a statement on another database inside the transaction, and rolls back', async () => {
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-5' });
      rds.on(RollbackTransactionCommand).resolves({});

      const run = adapter().transaction((tx) => tx.query('SELECT 1', {}, { database: 'hp_dev_c1_other' }));

      await expect(run).rejects.toThrow('a transaction runs on one database only');
      expect(rds).toHaveReceivedCommandTimes(ExecuteStatementCommand, 0);
      expect(rds).toHaveReceivedCommandWith(RollbackTransactionCommand, { transactionId: 'tx-5' });
    });

    it('fails transiently, running no work, when the database is still resuming', async () => {
      rds.on(BeginTransactionCommand).rejects(new DatabaseResumingException({ message: 'resuming', $metadata: {} }));
      const work = jest.fn(async () => 'never');

      await expect(adapter().transaction(work)).rejects.toBeInstanceOf(TransientError);
      expect(work).not.toHaveBeenCalled();
      expect(rds).toHaveReceivedCommandTimes(RollbackTransactionCommand, 0);
    });
  });

  describe('server-level statements', () => {
    it('sends CREATE DATABASE and DROP DATABASE to serverStatements, not to the Data API', async () => {
      const server = new RecordingExecutor();
      const sql = adapter(server);

      await sql.query('CREATE DATABASE "hp_dev_c1_acme"');
      await sql.query('  drop database if exists "hp_dev_c1_acme" WITH (FORCE)', {}, { database: 'postgres' });

      expect(server.calls).toEqual([
        { sql: 'CREATE DATABASE "hp_dev_c1_acme"', params: undefined, options: undefined },
        { sql: '  drop database if exists "hp_dev_c1_acme" WITH (FORCE)', params: {}, options: { database: 'postgres' } },
      ]);
      expect(rds).toHaveReceivedCommandTimes(ExecuteStatementCommand, 0);
    });

    it('keeps every other statement on the Data API', async () => {
      const server = new RecordingExecutor();
      rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 0 });

      await adapter(server).query('CREATE ROLE "hp_dev_c1_acme_app" LOGIN');
      await adapter(server).query('SELECT datname AS "create database" FROM pg_database');

      expect(server.calls).toEqual([]);
      expect(rds).toHaveReceivedCommandTimes(ExecuteStatementCommand, 2);
    });

    it('sends CREATE DATABASE through the Data API when no server connection is given', async () => {
      rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 0 });

      await adapter().query('CREATE DATABASE "hp_dev_c1_acme"');

      expect(rds).toHaveReceivedCommandWith(ExecuteStatementCommand, { database, sql: 'CREATE DATABASE "hp_dev_c1_acme"' });
    });
  });
});

describe('RdsDataSql signed in as a tenant', () => {
  beforeEach(() => {
    rds.reset();
  });

  it("signs every statement and transaction in with the tenant's secret, found by its name, and never with the admin's", async () => {
    const tenantSecretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hp/dev/c1/books/database-Xy12Ab';
    const lookedUp: string[] = [];
    const sql = new RdsDataSql({
      client: new RDSDataClient({ region: 'eu-west-1' }),
      resourceArn,
      secretArn,
      database,
      secretArnOf: async (name) => {
        lookedUp.push(name);
        return tenantSecretArn;
      },
    });
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 0 });
    rds.on(CommitTransactionCommand).resolves({});

    const tenant = sql.signedInAs({ secretName: 'hp/dev/c1/books/database', username: 'books', password: 'unused by the Data API' });
    await tenant.query('SELECT 1', {}, { database: 'hp_dev_c1_books' });
    await tenant.transaction((tx) => tx.query('SELECT 2'), { database: 'hp_dev_c1_books' });

    expect(lookedUp).toEqual(['hp/dev/c1/books/database']);
    expect(rds).toHaveReceivedCommandWith(BeginTransactionCommand, { resourceArn, secretArn: tenantSecretArn, database: 'hp_dev_c1_books' });
    expect(rds).toHaveReceivedCommandWith(CommitTransactionCommand, { resourceArn, secretArn: tenantSecretArn, transactionId: 'tx-1' });
    for (const call of rds.commandCalls(ExecuteStatementCommand)) expect(call.args[0].input.secretArn).toBe(tenantSecretArn);
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(2);
  });
});
