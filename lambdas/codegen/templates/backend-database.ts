/** `src/database.ts` of a generated app: the pool, row conversion, database errors as answers. */
export const DATABASE_SOURCE = String.raw`import pg from 'pg';
import type { AppConfig } from './config.js';
import { HttpError, invalid } from './http.js';
import type { ApiRow, EntityModel, Scalar } from './types.js';

export type Row = Record<string, unknown>;

/** The tenant's own database, with the tenant's own login: DATABASE_URL, or PG* variables read by pg. */
export function createPool(config: AppConfig): pg.Pool {
  const pool = new pg.Pool({
    ...(config.databaseUrl !== undefined ? { connectionString: config.databaseUrl } : {}),
    max: config.poolMax,
    // Short, so a draining process gives its connections back soon (the role has a connection limit).
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 5_000,
    statement_timeout: 15_000,
    application_name: 'hostplane-app',
  });
  // An idle connection that breaks must not bring the process down; the next query reconnects.
  pool.on('error', (error) => process.stderr.write('database: idle connection failed: ' + error.message + '\n'));
  return pool;
}

/** bigint as a JSON number while it is exact (inputs are held to the safe range); as a string past it. */
function toNumber(value: unknown): Scalar {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : String(value);
}

function toTimestamp(value: unknown): Scalar {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : String(value);
}

function toScalar(value: unknown): Scalar {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return String(value);
}

/** A database row as the API shows it: id, the fields in definition order, created_at, updated_at. */
export function toApiRow(entity: EntityModel, row: Row): ApiRow {
  const out: ApiRow = { id: toNumber(row.id) };
  for (const field of entity.fields) {
    const value = row[field.name];
    if (field.type === 'integer' || field.type === 'reference') out[field.name] = toNumber(value);
    else if (field.type === 'timestamp') out[field.name] = toTimestamp(value);
    else out[field.name] = toScalar(value);
  }
  out.created_at = toTimestamp(row.created_at);
  out.updated_at = toTimestamp(row.updated_at);
  return out;
}

interface PgErrorFields {
  readonly code?: unknown;
  readonly constraint?: unknown;
  readonly column?: unknown;
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', '53300', '57P01', '57P02', '57P03', '3D000', '28000', '28P01', '42501']);

/** True when the database cannot be reached or refuses this login: 503, not the client's fault. */
export function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as PgErrorFields).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  const message = error instanceof Error ? error.message : '';
  return /timeout exceeded when trying to connect|Connection terminated/i.test(message);
}

/**
 * A database error as the answer it deserves, naming the field where the database names a
 * constraint or a column; undefined when it is a fault of ours (the server answers 500).
 */
export function databaseErrorAnswer(entity: EntityModel, operation: 'write' | 'delete', error: unknown, id?: number): HttpError | undefined {
  if (isUnavailable(error)) return new HttpError(503, 'unavailable', 'the database is unavailable; try again', undefined, { 'retry-after': '1' });
  if (typeof error !== 'object' || error === null) return undefined;
  const fields = error as PgErrorFields;
  const code = typeof fields.code === 'string' ? fields.code : '';
  const constraint = typeof fields.constraint === 'string' ? fields.constraint : '';
  const owned = Object.hasOwn(entity.constraints, constraint) ? entity.constraints[constraint] : undefined;
  switch (code) {
    case '23505':
      if (owned) return new HttpError(409, 'conflict', owned.field + ': another ' + entity.name + ' already has this value', owned.field);
      return new HttpError(409, 'conflict', 'another ' + entity.name + ' already has these values');
    case '23503': {
      if (operation === 'delete') {
        const referrer = Object.hasOwn(entity.referrers, constraint) ? entity.referrers[constraint] : undefined;
        const by = referrer ? ' by ' + referrer.entity + '.' + referrer.field : '';
        return new HttpError(409, 'conflict', entity.name + ' ' + String(id) + ' is still referred to' + by + '; delete or change those first');
      }
      if (owned) {
        const target = entity.fields.find((field) => field.name === owned.field)?.entity ?? 'row';
        return invalid(owned.field, 'refers to a ' + target + ' that does not exist');
      }
      return invalid('body', 'refers to a row that does not exist');
    }
    case '23514':
      if (owned) return invalid(owned.field, 'is not an allowed value');
      return invalid('body', 'breaks a rule of ' + entity.name);
    case '23502':
      if (typeof fields.column === 'string') return invalid(fields.column, 'is required');
      return invalid('body', 'leaves a required field empty');
    case '22001':
      return invalid('body', 'a value is too long');
    case '22003':
      return invalid('body', 'a number is out of range');
    case '22007':
    case '22008':
      return invalid('body', 'a timestamp is out of range');
    default:
      return undefined;
  }
}
`;
