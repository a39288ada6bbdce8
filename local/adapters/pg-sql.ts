import pg from 'pg';
import { TransientError } from '../../lambdas/domain/errors.js';
import { isTransientSqlState, type SqlExecutor, type SqlLogin, type SqlOptions, type SqlParams, type SqlPort, type SqlResult, type SqlRow } from '../../lambdas/ports/sql.js';
import { toPositional } from '../../lambdas/ports/named-parameters.js';

/** PostgreSQL error classes worth a retry: connection trouble, serialization, too many connections, starting up. */
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

const OID_INT8 = 20;
const OID_NUMERIC = 1700;
const OID_TIMESTAMPTZ = 1184;
const OID_TIMESTAMP = 1114;
const OID_DATE = 1082;
const OID_JSON = 114;
const OID_JSONB = 3802;

/**
 * Values come back as the Data API gives them: timestamps and JSON as strings, big integers as
 * numbers when they fit, so callers read the same shapes in both worlds.
 */
const dataApiTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    switch (oid) {
      case OID_INT8:
        return (value: string) => {
          const n = Number(value);
          return Number.isSafeInteger(n) ? n : value;
        };
      case OID_NUMERIC:
        return (value: string) => Number(value);
      case OID_TIMESTAMPTZ:
      case OID_TIMESTAMP:
        return (value: string) => new Date(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString();
      case OID_DATE:
      case OID_JSON:
      case OID_JSONB:
        return (value: string) => value;
      default:
        return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
    }
  },
} as pg.CustomTypesConfig;

export interface PgSqlOptions {
  /** Connection string of a login that may create databases and roles (`postgres://user:pw@host:port/db`). */
  readonly connectionString: string;
  /** Database statements run against unless they name another. */
  readonly defaultDatabase: string;
  /** Pool size per database. @default 5 */
  readonly poolSize?: number;
}

/** The SQL port over real PostgreSQL connections, one small pool per database. */
export class PgSql implements SqlPort {
  private readonly pools = new Map<string, pg.Pool>();
  /** Ports signed in as other logins, by user name: closed with this one. */
  private readonly logins = new Map<string, PgSql>();

  constructor(private readonly options: PgSqlOptions) {}

  /** The same server (host, port, TLS settings of the admin URL) signed in as `login`, with pools of its own. */
  signedInAs(login: SqlLogin): SqlPort {
    const url = new URL(this.options.connectionString);
    url.username = encodeURIComponent(login.username);
    url.password = encodeURIComponent(login.password);
    const key = `${login.username}\n${login.password}`;
    let port = this.logins.get(key);
    if (!port) {
      port = new PgSql({ ...this.options, connectionString: url.toString(), poolSize: 1 });
      this.logins.set(key, port);
    }
    return port;
  }

  async query<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams, options?: SqlOptions): Promise<SqlResult<R>> {
    return runOn<R>(this.pool(options?.database ?? this.options.defaultDatabase), sql, params);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options?: SqlOptions): Promise<T> {
    const database = options?.database ?? this.options.defaultDatabase;
    const client = await wrapErrors(() => this.pool(database).connect());
    // The pool stops listening for a client's errors while it is checked out; a connection lost
    // mid-transaction must fail the transaction, not crash the process with an unhandled 'error'.
    const onLost = () => undefined;
    client.on('error', onLost);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const tx: SqlExecutor = {
        query: <R extends SqlRow>(sql: string, params?: SqlParams, options?: SqlOptions) => {
          if (options?.database && options.database !== database) {
            throw new Error('a transaction runs on one database only');
          }
          return runOn<R>(client, sql, params);
        },
      };
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      // A connection that cannot even roll back is broken: destroy it rather than pool it.
      if (!rolledBack) broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.off('error', onLost);
      client.release(broken);
    }
  }

  /** Closes the pool of one database (before it is dropped), or all of them. */
  async close(database?: string): Promise<void> {
    const logins = [...this.logins.values()];
    if (!database) this.logins.clear();
    await Promise.all(logins.map((login) => login.close(database)));
    const names = database ? [database] : [...this.pools.keys()];
    await Promise.all(
      names.map(async (name) => {
        const pool = this.pools.get(name);
        this.pools.delete(name);
        await pool?.end();
      }),
    );
  }

  private pool(database: string): pg.Pool {
    let pool = this.pools.get(database);
    if (!pool) {
      const url = new URL(this.options.connectionString);
      url.pathname = `/${encodeURIComponent(database)}`;
      pool = new pg.Pool({
        connectionString: url.toString(),
        max: this.options.poolSize ?? 5,
        idleTimeoutMillis: 10_000,
        connectionTimeoutMillis: 10_000,
        types: dataApiTypes,
      });
      // An idle client losing its connection must not crash the process; the next query reconnects.
      pool.on('error', () => undefined);
      this.pools.set(database, pool);
    }
    return pool;
  }
}

async function runOn<R extends SqlRow>(
  client: pg.Pool | pg.PoolClient,
  sql: string,
  params?: SqlParams,
): Promise<SqlResult<R>> {
  const { text, values } = toPositional(sql, params);
  const result = await wrapErrors(() => client.query<R>(text, values));
  return { rows: result.rows, rowCount: result.rowCount ?? 0 };
}

async function wrapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw isTransient(error) ? new TransientError(`database: ${(error as Error).message}`) : error;
  }
}

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: string }).code ?? '';
  return isTransientSqlState(code) || TRANSIENT_NODE_CODES.has(code) ||
    /Connection terminated|timeout exceeded when trying to connect/i.test(error.message);
}
