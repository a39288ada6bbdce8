import type { DatabaseError } from 'pg';

/** The exception names the Data API answers with (the SDK builds its error classes from them). */
export type DataApiErrorType =
  | 'AccessDeniedException'
  | 'BadRequestException'
  | 'DatabaseErrorException'
  | 'DatabaseUnavailableException'
  | 'NotFoundException'
  | 'SecretsErrorException'
  | 'StatementTimeoutException'
  | 'TransactionNotFoundException'
  | 'UnsupportedResultException'
  | 'UnknownOperationException'
  | 'InternalServerErrorException';

const STATUS: Record<DataApiErrorType, number> = {
  AccessDeniedException: 403,
  BadRequestException: 400,
  DatabaseErrorException: 400,
  DatabaseUnavailableException: 504,
  NotFoundException: 404,
  SecretsErrorException: 400,
  StatementTimeoutException: 400,
  TransactionNotFoundException: 404,
  UnsupportedResultException: 400,
  UnknownOperationException: 404,
  InternalServerErrorException: 500,
};

/** An error the emulator answers as the service would: its name in `x-amzn-errortype`, `{ message }` as the body. */
export class DataApiError extends Error {
  readonly status: number;
  constructor(
    readonly errorType: DataApiErrorType,
    message: string,
  ) {
    super(message);
    this.status = STATUS[errorType];
  }
}

export const badRequest = (message: string): DataApiError => new DataApiError('BadRequestException', message);

/** The service's words for a result past its limit (Aurora user guide, "Troubleshooting Amazon RDS Data API"). */
export const RESPONSE_TOO_LARGE_MESSAGE = 'Database returned more than the allowed response size limit';

/** What PostgreSQL says when `statement_timeout` cancels a statement. */
const QUERY_CANCELED = '57014';

/** Connection failures that mean the database is not there to answer, not that the statement is wrong. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P03', '53300']);

/** Which exception carries SQL errors: `DatabaseErrorException` today, `BadRequestException` before (now deprecated). */
export type SqlErrorType = 'DatabaseErrorException' | 'BadRequestException';

/**
 * A PostgreSQL error as the Data API words it: the server's message, its detail, hint and position
 * joined with "; ", and the SQLSTATE last (`ERROR: relation "x" does not exist; Position: 15; SQLState: 42P01`).
 */
export function fromDatabaseError(error: unknown, sqlErrorType: SqlErrorType): DataApiError {
  if (error instanceof DataApiError) return error;
  const pgError = error as Partial<DatabaseError> & { code?: string; message?: string };
  const code = pgError.code;
  if (code === QUERY_CANCELED) return new DataApiError('StatementTimeoutException', 'Request timed out');
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return new DataApiError('DatabaseUnavailableException', `The database is unavailable: ${code}`);
  }
  if (code === undefined || !/^[0-9A-Z]{5}$/.test(code)) {
    return new DataApiError('InternalServerErrorException', pgError.message ?? String(error));
  }
  const parts = [`${pgError.severity ?? 'ERROR'}: ${pgError.message ?? ''}`];
  if (pgError.detail) parts.push(`Detail: ${pgError.detail}`);
  if (pgError.hint) parts.push(`Hint: ${pgError.hint}`);
  if (pgError.position) parts.push(`Position: ${pgError.position}`);
  parts.push(`SQLState: ${code}`);
  return new DataApiError(sqlErrorType, parts.join('; '));
}
