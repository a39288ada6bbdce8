/**
 * The SQL port: statements with named parameters (`:tenantId`), as the RDS Data API takes them,
 * so the registry and the provision steps never know which adapter runs them.
 */
export type SqlValue = string | number | boolean | null;
export type SqlParams = Readonly<Record<string, SqlValue>>;
export type SqlRow = Record<string, SqlValue>;

export interface SqlResult<R extends SqlRow> {
  readonly rows: R[];
  readonly rowCount: number;
}

export interface SqlOptions {
  /** Run against this database instead of the adapter's default (the registry). */
  readonly database?: string;
}

export interface SqlExecutor {
  query<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams, options?: SqlOptions): Promise<SqlResult<R>>;
}

export interface SqlPort extends SqlExecutor {
  /** Runs `work` in one transaction (on the default database, or `options.database`); it commits when `work` resolves. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options?: SqlOptions): Promise<T>;
  /**
   * The same server, signed in as another login (a tenant's) instead of the platform's admin: the
   * only way tenant-made objects may run (docs/security.md, ADR 0009). Adapters that cannot sign
   * in as another login leave it out, and callers refuse to go on without it.
   */
  signedInAs?(login: SqlLogin): SqlPort;
}

/** A database login other than the platform's, read from its secret (RDS's shape: username, password…). */
export interface SqlLogin {
  /** The secret's name, as the secrets port knows it: the Data API signs in with the secret itself. */
  readonly secretName: string;
  readonly username: string;
  readonly password: string;
}

/** Quotes an identifier that has already been validated (derived names only). */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`refusing to quote an unexpected identifier: ${JSON.stringify(name)}`);
  }
  return `"${name}"`;
}

/** Quotes a string literal, for the few statements that take no parameters (CREATE ROLE … PASSWORD). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * SQLSTATEs worth another try, whichever adapter saw them: serialization failure, deadlock, too
 * many connections, the server starting up, a lock not available, and any connection exception (08).
 */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '53300', '57P03', '55P03']);

export function isTransientSqlState(code: string): boolean {
  return TRANSIENT_SQLSTATES.has(code) || code.startsWith('08');
}
