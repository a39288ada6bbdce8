import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
  type ColumnMetadata,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  type Field,
  type RDSDataClient,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { PermanentError, TransientError } from '../../lambdas/domain/errors.js';
import { isTransientSqlState, type SqlExecutor, type SqlLogin, type SqlOptions, type SqlParams, type SqlPort, type SqlResult, type SqlRow, type SqlValue } from '../../lambdas/ports/sql.js';
import { awsErrorName, toDomainError } from './aws-errors.js';
import { toPositional } from '../../lambdas/ports/named-parameters.js';

/** Statements that must run outside any transaction block, at the server level: they go to `serverStatements` when it is given. */
export const SERVER_STATEMENT = /^\s*(CREATE|DROP)\s+DATABASE\b/i;

/**
 * Data API errors worth a retry beyond aws-errors' throttling and 5xx: a paused Aurora Serverless v2
 * instance waking up ("wait a few seconds and try again", the exception's own doc), and a statement
 * that ran past the call's timeout.
 */
const TRANSIENT_DATA_API_ERRORS = new Set([
  'DatabaseResumingException',
  'DatabaseUnavailableException',
  'ServiceUnavailableError',
  'StatementTimeoutException',
  'InternalServerErrorException',
]);


/**
 * The Data API puts the PostgreSQL SQLSTATE at the end of a BadRequestException/DatabaseErrorException
 * message: `ERROR: relation "x" does not exist; Position: 15; SQLState: 42P01` (a capture from Aurora
 * PostgreSQL 17 Serverless v2 in aws-devtools-labs/aws-blocks' data-api-errors fixtures).
 */
const SQLSTATE_IN_MESSAGE = /SQLState:\s*([0-9A-Z]{5})\b/;

/** How the Data API says a result passed its 1 MiB limit (Aurora user guide, "Troubleshooting Amazon RDS Data API"). */
const RESULT_TOO_LARGE = /more than the allowed response size limit|response exceeded size limit/i;

/** The Data API's cap on one statement's result, in bytes. */
export const DATA_API_RESULT_LIMIT_BYTES = 1024 * 1024;

/**
 * A statement PostgreSQL refused. `code` is its SQLSTATE, as on pg's errors, so domain code that
 * branches on `.code` (UNIQUE_VIOLATION '23505', '42P01', …) works the same in both worlds.
 */
export class SqlStatementError extends PermanentError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A result larger than the Data API returns (1 MiB): the statement must be paged (LIMIT, keyset). */
export class ResultTooLargeError extends PermanentError {}

export interface RdsDataSqlOptions {
  /** Created once per Lambda module by the composition root. */
  readonly client: RDSDataClient;
  /** The Aurora cluster's ARN. */
  readonly resourceArn: string;
  /** The Secrets Manager secret the Data API signs in with. */
  readonly secretArn: string;
  /** Database statements run against unless they name another (the registry). */
  readonly database: string;
  /** Runs CREATE/DROP DATABASE (see {@link SERVER_STATEMENT}); without it they go through the Data API too. */
  readonly serverStatements?: SqlExecutor;
  /**
   * A secret's full ARN from its name, for {@link RdsDataSql.signedInAs} (the Data API signs in with
   * a secret's ARN). @default the name itself
   */
  readonly secretArnOf?: (secretName: string) => Promise<string>;
}

/**
 * The SQL port over the RDS Data API. Rows come back shaped as the local `PgSql` gives them: integers
 * and numerics as numbers (a bigint past 2^53 as its exact string), booleans, timestamps as ISO
 * strings, json/jsonb and other text as strings, SQL NULL as null; `rowCount` as pg counts it.
 *
 * Results are read as typed `records` with `columnMetadata`, not `formatRecordsAs: 'JSON'`: the
 * JSON form drops the column types (Aurora user guide, "Processing … query results in JSON format"),
 * and without them a timestamptz, a jsonb and a text column look alike. Bigints are asked for as
 * strings (`longReturnType: 'STRING'`) so no digit is lost on the way through a JS number.
 *
 * One statement's result may be at most 1 MiB ({@link DATA_API_RESULT_LIMIT_BYTES}); past that the
 * call fails and this adapter throws {@link ResultTooLargeError}. Read big tables a page at a time.
 */
export class RdsDataSql implements SqlPort {
  constructor(private readonly options: RdsDataSqlOptions) {}

  /**
   * The Data API signed in with the login's own secret (a tenant's: its secret has RDS's shape), so
   * the session's user is that login. The caller must be allowed to read that secret.
   */
  signedInAs(login: SqlLogin): SqlPort {
    // Server statements (CREATE/DROP DATABASE) are the admin's alone: a tenant's login has none.
    const { secretArnOf, resourceArn, client, database } = this.options;
    let signedIn: Promise<RdsDataSql> | undefined;
    const port = () =>
      (signedIn ??= (secretArnOf ? secretArnOf(login.secretName) : Promise.resolve(login.secretName)).then(
        (secretArn) => new RdsDataSql({ client, resourceArn, database, secretArn }),
      ));
    return {
      query: async (sql, params, statementOptions) => (await port()).query(sql, params, statementOptions),
      transaction: async (work, transactionOptions) => (await port()).transaction(work, transactionOptions),
    };
  }

  async query<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams, options?: SqlOptions): Promise<SqlResult<R>> {
    if (this.options.serverStatements && SERVER_STATEMENT.test(sql)) {
      return this.options.serverStatements.query<R>(sql, params, options);
    }
    return this.execute<R>(sql, params, options?.database ?? this.options.database);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options?: SqlOptions): Promise<T> {
    const database = options?.database ?? this.options.database;
    const { resourceArn, secretArn, client } = this.options;
    const begun = await this.call(`beginning a transaction on ${database}`, () =>
      client.send(new BeginTransactionCommand({ resourceArn, secretArn, database })),
    );
    const transactionId = begun.transactionId;
    if (!transactionId) throw new PermanentError(`beginning a transaction on ${database}: the Data API returned no transactionId`);

    // The Data API refuses a second statement while one runs in the same transaction ("Transaction is
    // still running a query"); pg queues them on its connection. Queue them here too.
    let tail: Promise<unknown> = Promise.resolve();
    let finished = false;
    const tx: SqlExecutor = {
      query: <R extends SqlRow>(sql: string, params?: SqlParams, statementOptions?: SqlOptions) => {
        if (statementOptions?.database && statementOptions.database !== database) {
          throw new Error('a transaction runs on one database only');
        }
        if (finished) throw new Error('this transaction has already ended');
        const run = tail.then(() => this.execute<R>(sql, params, database, transactionId));
        tail = run.catch(() => undefined);
        return run;
      },
    };

    try {
      const result = await work(tx);
      await tail;
      finished = true;
      await this.call(`committing a transaction on ${database}`, () =>
        client.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId })),
      );
      return result;
    } catch (error) {
      finished = true;
      await tail;
      // A transaction the Data API already ended (a failed statement aborts it) cannot be rolled back;
      // either way the error worth reporting is the one that got us here.
      await client.send(new RollbackTransactionCommand({ resourceArn, secretArn, transactionId })).catch(() => undefined);
      throw error;
    }
  }

  private async execute<R extends SqlRow>(
    sql: string,
    params: SqlParams | undefined,
    database: string,
    transactionId?: string,
  ): Promise<SqlResult<R>> {
    // The same check the local adapter makes: every :name has a value (the Data API's own answer to a missing one is vaguer).
    toPositional(sql, params);
    const input: ExecuteStatementCommandInput = {
      resourceArn: this.options.resourceArn,
      secretArn: this.options.secretArn,
      database,
      sql,
      parameters: toParameters(params),
      includeResultMetadata: true,
      resultSetOptions: { longReturnType: 'STRING', decimalReturnType: 'STRING' },
      ...(transactionId ? { transactionId } : {}),
    };
    const output = await this.call(`running SQL on ${database}`, () => this.options.client.send(new ExecuteStatementCommand(input)));
    return toResult<R>(output);
  }

  private async call<T>(doing: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw toSqlError(error, doing);
    }
  }
}

/** Named parameters as the Data API types them; an integer outside ±2^53 cannot be told apart from a float, so it goes as a double. */
function toParameters(params: SqlParams | undefined): SqlParameter[] | undefined {
  const entries = Object.entries(params ?? {});
  return entries.length === 0 ? undefined : entries.map(([name, value]) => ({ name, value: toField(value) }));
}

function toField(value: SqlValue): Field {
  if (value === null) return { isNull: true };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { booleanValue: value };
  return Number.isSafeInteger(value) ? { longValue: value } : { doubleValue: value };
}

function toResult<R extends SqlRow>(output: ExecuteStatementCommandOutput): SqlResult<R> {
  const columns = output.columnMetadata ?? [];
  const records = output.records ?? [];
  const rows = records.map((record) => {
    const row: SqlRow = {};
    record.forEach((field, i) => {
      const column = columns[i];
      row[columnName(column, i)] = fromField(field, column, i);
    });
    return row as R;
  });
  // A statement with a result set (SELECT, … RETURNING) counts its rows, as pg does; others the rows they changed.
  const rowCount = columns.length > 0 ? rows.length : (output.numberOfRecordsUpdated ?? 0);
  return { rows, rowCount };
}

function columnName(column: ColumnMetadata | undefined, index: number): string {
  return column?.label || column?.name || `column${index + 1}`;
}

const INTEGER_TYPES = new Set(['int2', 'int4', 'int8', 'smallserial', 'serial', 'bigserial', 'serial2', 'serial4', 'serial8', 'oid']);
const DECIMAL_TYPES = new Set(['numeric', 'decimal', 'float4', 'float8', 'money']);
const TIMESTAMP_TYPES = new Set(['timestamptz', 'timestamp']);

/** One value, typed by its column as the local adapter's pg type parsers type it. */
function fromField(field: Field, column: ColumnMetadata | undefined, index: number): SqlValue {
  if (field.isNull) return null;
  const type = column?.typeName?.toLowerCase() ?? '';
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.stringValue !== undefined) {
    const text = field.stringValue;
    if (INTEGER_TYPES.has(type)) return integer(text);
    if (DECIMAL_TYPES.has(type)) return Number(text);
    if (TIMESTAMP_TYPES.has(type)) return isoTimestamp(text);
    return text;
  }
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue).toString('base64');
  throw new PermanentError(`the Data API returned a value this adapter cannot read (column ${columnName(column, index)}, type ${type || 'unknown'})`);
}

/** A bigint as a number when it fits exactly, else its digits, as the local adapter does. */
function integer(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/**
 * The Data API gives timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]`, time-zone types already turned to
 * UTC and without an offset; an offset, if one is there, is honoured.
 */
function isoTimestamp(text: string): string {
  const iso = text.trim().replace(' ', 'T');
  const withZone = /(Z|[+-]\d\d(:?\d\d)?)$/.test(iso) ? iso.replace(/([+-]\d\d)$/, '$1:00') : `${iso}Z`;
  const date = new Date(withZone);
  return Number.isNaN(date.getTime()) ? text : date.toISOString();
}

/**
 * What a Data API call threw, as the domain's errors: a refused statement keeps its SQLSTATE in
 * `.code`; a result past 1 MiB says so; waking, throttled or unavailable databases are transient;
 * anything else goes through aws-errors. Errors that are not AWS's pass through.
 */
export function toSqlError(error: unknown, doing: string): Error {
  const name = awsErrorName(error);
  if (name === undefined || !(error instanceof Error)) return toDomainError(error, doing);
  if (RESULT_TOO_LARGE.test(error.message)) {
    return new ResultTooLargeError(
      `${doing}: the result is larger than the ${DATA_API_RESULT_LIMIT_BYTES / (1024 * 1024)} MiB the Data API returns; page the query (${name}: ${error.message})`,
    );
  }
  const sqlState = SQLSTATE_IN_MESSAGE.exec(error.message)?.[1];
  if (sqlState !== undefined) {
    const message = `${doing}: ${error.message}`;
    if (isTransientSqlState(sqlState)) {
      return Object.assign(new TransientError(message), { code: sqlState });
    }
    return new SqlStatementError(sqlState, message);
  }
  if (TRANSIENT_DATA_API_ERRORS.has(name)) return new TransientError(`${doing}: ${name}: ${error.message}`);
  return toDomainError(error, doing);
}
