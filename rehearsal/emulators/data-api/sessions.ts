import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataApiError, fromDatabaseError, type SqlErrorType } from './errors.js';

export interface DatabaseLogin {
  readonly username: string;
  readonly password: string;
}

export interface SessionSettings {
  readonly host: string;
  readonly port: number;
  readonly ssl?: pg.ClientConfig['ssl'];
  readonly resolveSecret: (secretArn: string) => Promise<DatabaseLogin>;
  /** A transaction not used for this long is rolled back and forgotten (the service: 3 minutes). */
  readonly transactionIdleTimeoutMs: number;
  /** A statement running longer is cancelled by PostgreSQL (`statement_timeout`), unless the call continues after timeout. */
  readonly callTimeoutMs: number;
  readonly sqlErrorType: SqlErrorType;
}

/** One open transaction: its own connection, kept until commit, rollback or the idle timeout. */
export interface Transaction {
  readonly id: string;
  readonly secretArn: string;
  readonly database: string;
  readonly client: pg.Client;
  busy: boolean;
  idleTimer?: NodeJS.Timeout;
}

/**
 * The emulator's PostgreSQL sessions, as the service keeps them: a pool per login and database for
 * calls outside a transaction (autocommit), one dedicated connection per transaction. Every session
 * runs with `TimeZone=UTC` (Aurora's default) and ISO dates, so values come out as the Data API gives them.
 */
export class Sessions {
  private readonly pools = new Map<string, pg.Pool>();
  private readonly transactions = new Map<string, Transaction>();
  private readonly detached = new Set<pg.Client>();

  constructor(private readonly settings: SessionSettings) {}

  /** Runs `work` on a pooled connection of the secret's login to `database`. */
  async withPooledClient<T>(secretArn: string, database: string, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const login = await this.login(secretArn);
    const key = JSON.stringify([login.username, login.password, database]);
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new pg.Pool({ ...this.connectionConfig(login, database), max: 4, idleTimeoutMillis: 10_000 });
      // An idle connection the server dropped is discarded by the pool; without a listener it would crash the process.
      pool.on('error', () => undefined);
      this.pools.set(key, pool);
    }
    const client = await pool.connect().catch((error: unknown) => {
      throw fromDatabaseError(error, this.settings.sqlErrorType);
    });
    let broken: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      broken = error instanceof DataApiError && error.errorType !== 'DatabaseUnavailableException' ? undefined : (error as Error);
      throw error;
    } finally {
      // Nothing a call sets (SET ROLE, search_path, a BEGIN left open) reaches the next call on this
      // connection; a connection that cannot be reset is closed instead.
      if (broken === undefined) broken = await client.query('DISCARD ALL').then(() => undefined, (error: Error) => error);
      client.release(broken);
    }
  }

  /**
   * Runs `work` on a connection of its own without `statement_timeout`, for a call that continues
   * after its timeout: the connection closes when the statement ends, answered or not.
   */
  async withDetachedClient<T>(secretArn: string, database: string, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const client = await this.connect(secretArn, database, 0);
    this.detached.add(client);
    try {
      return await work(client);
    } finally {
      this.detached.delete(client);
      await client.end().catch(() => undefined);
    }
  }

  async begin(secretArn: string, database: string): Promise<string> {
    const client = await this.connect(secretArn, database, this.settings.callTimeoutMs);
    try {
      await client.query('BEGIN');
    } catch (error) {
      await client.end().catch(() => undefined);
      throw fromDatabaseError(error, this.settings.sqlErrorType);
    }
    const id = randomBytes(48).toString('base64');
    const transaction: Transaction = { id, secretArn, database, client, busy: false };
    client.on('error', () => this.forget(transaction));
    this.transactions.set(id, transaction);
    this.touch(transaction);
    return id;
  }

  /** Runs `work` in the transaction, one call at a time, as the service does. */
  async inTransaction<T>(transactionId: string, secretArn: string, work: (transaction: Transaction) => Promise<T>): Promise<T> {
    const transaction = this.find(transactionId, secretArn);
    if (transaction.busy) throw new DataApiError('BadRequestException', 'Transaction is still running a query');
    transaction.busy = true;
    clearTimeout(transaction.idleTimer);
    try {
      return await work(transaction);
    } finally {
      transaction.busy = false;
      if (this.transactions.has(transaction.id)) this.touch(transaction);
    }
  }

  /** Ends the transaction; PostgreSQL's answer to COMMIT after a failed statement is ROLLBACK, which is reported. */
  async end(transactionId: string, secretArn: string, how: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const transaction = this.find(transactionId, secretArn);
    this.forget(transaction);
    try {
      const result = await transaction.client.query(how);
      if (how === 'COMMIT' && result.command === 'ROLLBACK') {
        throw new DataApiError(
          this.settings.sqlErrorType,
          'ERROR: The database returned ROLLBACK, so the transaction cannot be committed: an earlier statement failed; SQLState: 25P02',
        );
      }
    } catch (error) {
      throw fromDatabaseError(error, this.settings.sqlErrorType);
    } finally {
      await transaction.client.end().catch(() => undefined);
    }
  }

  get openTransactions(): number {
    return this.transactions.size;
  }

  async close(): Promise<void> {
    const transactions = [...this.transactions.values()];
    transactions.forEach((transaction) => this.forget(transaction));
    await Promise.all(transactions.map((transaction) => transaction.client.end().catch(() => undefined)));
    await Promise.all([...this.detached].map((client) => client.end().catch(() => undefined)));
    await Promise.all([...this.pools.values()].map((pool) => pool.end().catch(() => undefined)));
    this.pools.clear();
  }

  private find(transactionId: string, secretArn: string): Transaction {
    const transaction = this.transactions.get(transactionId);
    if (transaction === undefined || transaction.secretArn !== secretArn) {
      throw new DataApiError('TransactionNotFoundException', `Transaction ${transactionId} is not found`);
    }
    return transaction;
  }

  private touch(transaction: Transaction): void {
    clearTimeout(transaction.idleTimer);
    transaction.idleTimer = setTimeout(() => {
      this.forget(transaction);
      void transaction.client
        .query('ROLLBACK')
        .catch(() => undefined)
        .finally(() => transaction.client.end().catch(() => undefined));
    }, this.settings.transactionIdleTimeoutMs);
    transaction.idleTimer.unref();
  }

  private forget(transaction: Transaction): void {
    clearTimeout(transaction.idleTimer);
    this.transactions.delete(transaction.id);
  }

  private async login(secretArn: string): Promise<DatabaseLogin> {
    try {
      return await this.settings.resolveSecret(secretArn);
    } catch (error) {
      throw new DataApiError('SecretsErrorException', `Error fetching secret ${secretArn}: ${(error as Error).message}`);
    }
  }

  private async connect(secretArn: string, database: string, statementTimeoutMs: number): Promise<pg.Client> {
    const login = await this.login(secretArn);
    const client = new pg.Client({ ...this.connectionConfig(login, database), statement_timeout: statementTimeoutMs });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw fromDatabaseError(error, this.settings.sqlErrorType);
    }
  }

  private connectionConfig(login: DatabaseLogin, database: string): pg.ClientConfig {
    return {
      host: this.settings.host,
      port: this.settings.port,
      ssl: this.settings.ssl,
      user: login.username,
      password: login.password,
      database,
      application_name: 'data-api-emulator',
      options: '-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres',
      statement_timeout: this.settings.callTimeoutMs,
      connectionTimeoutMillis: 10_000,
    };
  }
}
