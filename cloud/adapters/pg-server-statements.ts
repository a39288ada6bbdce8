import pg from 'pg';
import type { SqlExecutor, SqlOptions, SqlParams, SqlResult, SqlRow } from '../../lambdas/ports/sql.js';
import { callAws } from './aws-errors.js';
import { TransientError } from '../../lambdas/domain/errors.js';

export interface PgServerStatementsOptions {
  readonly host: string;
  readonly port: number;
  /** The cluster's admin login (its Secrets Manager secret: `{ username, password }`), read when a statement first runs. */
  readonly credentials: () => Promise<{ readonly username: string; readonly password: string }>;
  /** The database to connect to. @default 'postgres' */
  readonly database?: string;
  /** @default 10_000 */
  readonly connectTimeoutMs?: number;
}

/** Connection failures worth another try: the cluster is resuming, refusing, or unreachable for a moment. */
const TRANSIENT_CONNECT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', '57P03', '53300']);

/**
 * Server-level statements (CREATE/DROP DATABASE) over a `pg` connection from a VPC Lambda, for when
 * the Data API cannot run them (ADR 0005). One short-lived connection per statement: these run a few
 * times per tenant lifetime. TLS is required and verified against the RDS CA bundle that the Lambda
 * runtime ships (`NODE_EXTRA_CA_CERTS`, set by the stack). Statements take no parameters.
 */
export class PgServerStatements implements SqlExecutor {
  constructor(private readonly options: PgServerStatementsOptions) {}

  async query<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams, options?: SqlOptions): Promise<SqlResult<R>> {
    if (params && Object.keys(params).length > 0) throw new Error('server statements take no parameters');
    const { username, password } = await callAws('reading the database admin secret', () => this.options.credentials());
    const client = new pg.Client({
      host: this.options.host,
      port: this.options.port,
      user: username,
      password,
      database: options?.database ?? this.options.database ?? 'postgres',
      ssl: { rejectUnauthorized: true },
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 10_000,
    });
    try {
      await client.connect();
    } catch (error) {
      const code = (error as { code?: string }).code;
      await client.end().catch(() => undefined);
      if (code !== undefined && TRANSIENT_CONNECT_CODES.has(code)) {
        throw new TransientError(`connecting to ${this.options.host}:${this.options.port}: ${code}`);
      }
      throw error;
    }
    try {
      const result = await client.query<R>(sql);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
