import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { DataApiError, badRequest, type SqlErrorType } from './data-api/errors.js';
import {
  readJsonBody,
  sendError,
  sendJson,
  type BatchExecuteStatementRequest,
  type BeginTransactionRequest,
  type EndTransactionRequest,
  type ExecuteStatementRequest,
} from './data-api/protocol.js';
import { Sessions, type DatabaseLogin } from './data-api/sessions.js';
import { TypeCatalog, executeBatch, executeStatement } from './data-api/statements.js';

export { ensureAuroraLikeAdmin, type AuroraLikeAdmin } from './aurora-like-admin.js';
export type { DatabaseLogin } from './data-api/sessions.js';

export interface DataApiServerOptions {
  /** The PostgreSQL the statements run on. */
  readonly host: string;
  readonly port: number;
  readonly ssl?: pg.ClientConfig['ssl'];
  /** Logins by secret ARN, for the default `resolveSecret`. */
  readonly secrets?: Readonly<Record<string, DatabaseLogin>>;
  /** Reads the login a `secretArn` names (a rehearsal reads moto's Secrets Manager). @default a lookup in `secrets` */
  readonly resolveSecret?: (secretArn: string) => Promise<DatabaseLogin>;
  /** When given, calls naming another cluster are refused with NotFoundException. */
  readonly resourceArn?: string;
  /** @default 'DatabaseErrorException' (the service's current answer; `BadRequestException` is its deprecated one) */
  readonly sqlErrorType?: SqlErrorType;
  /** @default 1 MiB, the service's limit on one call's result */
  readonly responseSizeLimitBytes?: number;
  /** @default 180_000 (the service forgets a transaction 3 minutes after its last call) */
  readonly transactionIdleTimeoutMs?: number;
  /** @default 45_000 (the service's call timeout) */
  readonly callTimeoutMs?: number;
  /** Port to listen on, on 127.0.0.1. @default 0, a free one */
  readonly listenPort?: number;
}

export type DataApiOperation = 'ExecuteStatement' | 'BatchExecuteStatement' | 'BeginTransaction' | 'CommitTransaction' | 'RollbackTransaction';

/** One call the emulator answered, for tests and rehearsal reports. */
export interface RecordedRequest {
  readonly operation: DataApiOperation | 'Unknown';
  readonly database?: string;
  readonly sql?: string;
  readonly transactionId?: string;
  readonly status: number;
  readonly errorType?: string;
}

export interface DataApiServer {
  /** `http://127.0.0.1:<port>`: give it to `new RDSDataClient({ endpoint })`. */
  readonly endpoint: string;
  /** Every call answered so far, in order (the live array). */
  readonly requests: readonly RecordedRequest[];
  /** Transactions begun and not yet ended or expired. */
  openTransactions(): number;
  /** Rolls back open transactions, closes every PostgreSQL connection, then the HTTP server. */
  stop(): Promise<void>;
}

const ROUTES: Record<string, DataApiOperation> = {
  '/Execute': 'ExecuteStatement',
  '/BatchExecute': 'BatchExecuteStatement',
  '/BeginTransaction': 'BeginTransaction',
  '/CommitTransaction': 'CommitTransaction',
  '/RollbackTransaction': 'RollbackTransaction',
};

/** Aurora's default database, used when a call names none. */
const DEFAULT_DATABASE = 'postgres';
const REQUEST_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * An RDS Data API endpoint over a real PostgreSQL, speaking the service's restJson1 protocol, so the
 * real `RDSDataClient` (and the cloud SQL adapter over it) runs unchanged in a rehearsal. It checks
 * that a call is signed, not the signature. See rehearsal/README.md, "Data API emulator".
 */
export async function startDataApiServer(options: DataApiServerOptions): Promise<DataApiServer> {
  const secrets = options.secrets ?? {};
  const sqlErrorType = options.sqlErrorType ?? 'DatabaseErrorException';
  const sessions = new Sessions({
    host: options.host,
    port: options.port,
    ssl: options.ssl,
    resolveSecret:
      options.resolveSecret ??
      (async (secretArn) => {
        const login = secrets[secretArn];
        if (login === undefined) throw new Error("Secrets Manager can't find the specified secret.");
        return login;
      }),
    transactionIdleTimeoutMs: options.transactionIdleTimeoutMs ?? 180_000,
    callTimeoutMs: options.callTimeoutMs ?? 45_000,
    sqlErrorType,
  });
  const statementSettings = { sqlErrorType, responseSizeLimitBytes: options.responseSizeLimitBytes ?? 1024 * 1024 };
  const callTimeoutMs = options.callTimeoutMs ?? 45_000;
  const catalog = new TypeCatalog();
  const requests: RecordedRequest[] = [];

  function target(body: { resourceArn?: string; secretArn?: string }): { secretArn: string } {
    if (!body.resourceArn) throw badRequest('resourceArn is required');
    if (!body.secretArn) throw badRequest('secretArn is required');
    if (options.resourceArn !== undefined && body.resourceArn !== options.resourceArn) {
      throw new DataApiError('NotFoundException', `Cluster ${body.resourceArn} is not found`);
    }
    return { secretArn: body.secretArn };
  }

  async function execute(request: ExecuteStatementRequest): Promise<string> {
    const { secretArn } = target(request);
    if (!request.sql) throw badRequest('sql is required');
    if (request.transactionId) {
      return sessions.inTransaction(request.transactionId, secretArn, (transaction) =>
        executeStatement(transaction.client, transaction.database, request, catalog, statementSettings),
      );
    }
    const database = request.database || DEFAULT_DATABASE;
    if (!request.continueAfterTimeout) {
      return sessions.withPooledClient(secretArn, database, (client) => executeStatement(client, database, request, catalog, statementSettings));
    }
    // The call answers StatementTimeoutException at its timeout; the statement runs on to its end.
    const running = sessions.withDetachedClient(secretArn, database, (client) => executeStatement(client, database, request, catalog, statementSettings));
    running.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DataApiError('StatementTimeoutException', 'Request timed out')), callTimeoutMs);
    });
    try {
      return await Promise.race([running, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function batchExecute(request: BatchExecuteStatementRequest): Promise<string> {
    const { secretArn } = target(request);
    if (!request.sql) throw badRequest('sql is required');
    const sql = request.sql;
    const sets = request.parameterSets ?? [];
    if (request.transactionId) {
      return sessions.inTransaction(request.transactionId, secretArn, (transaction) => executeBatch(transaction.client, sql, sets, sqlErrorType));
    }
    // Outside a transaction the sets run as one (all or none).
    const database = request.database || DEFAULT_DATABASE;
    return sessions.withPooledClient(secretArn, database, async (client) => {
      await client.query('BEGIN');
      try {
        const body = await executeBatch(client, sql, sets, sqlErrorType);
        await client.query('COMMIT');
        return body;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  async function answer(operation: DataApiOperation, body: Record<string, unknown>): Promise<string> {
    switch (operation) {
      case 'ExecuteStatement':
        return execute(body as ExecuteStatementRequest);
      case 'BatchExecuteStatement':
        return batchExecute(body as BatchExecuteStatementRequest);
      case 'BeginTransaction': {
        const request = body as BeginTransactionRequest;
        const { secretArn } = target(request);
        return JSON.stringify({ transactionId: await sessions.begin(secretArn, request.database || DEFAULT_DATABASE) });
      }
      case 'CommitTransaction':
      case 'RollbackTransaction': {
        const request = body as EndTransactionRequest;
        const { secretArn } = target(request);
        if (!request.transactionId) throw badRequest('transactionId is required');
        const commit = operation === 'CommitTransaction';
        await sessions.end(request.transactionId, secretArn, commit ? 'COMMIT' : 'ROLLBACK');
        return JSON.stringify({ transactionStatus: commit ? 'Transaction Committed' : 'Rollback Complete' });
      }
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://emulator').pathname;
    const operation = request.method === 'POST' ? ROUTES[path] : undefined;
    let body: Record<string, unknown> = {};
    try {
      if (operation === undefined) throw new DataApiError('UnknownOperationException', `No operation at ${request.method} ${path}`);
      if (!request.headers.authorization) throw new DataApiError('AccessDeniedException', 'Missing Authentication Token');
      body = await readJsonBody(request, REQUEST_BODY_LIMIT_BYTES);
      sendJson(response, await answer(operation, body));
      record(operation, body, 200);
    } catch (error) {
      const failure = error instanceof DataApiError ? error : new DataApiError('InternalServerErrorException', String(error));
      sendError(response, failure);
      record(operation ?? 'Unknown', body, failure.status, failure.errorType);
    }
  }

  function record(operation: RecordedRequest['operation'], body: Record<string, unknown>, status: number, errorType?: string): void {
    const text = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
    requests.push({ operation, database: text('database'), sql: text('sql'), transactionId: text('transactionId'), status, errorType });
  }

  const server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    openTransactions: () => sessions.openTransactions,
    async stop() {
      await sessions.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
