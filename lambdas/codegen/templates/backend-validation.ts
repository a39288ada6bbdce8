/** `src/validation.ts` of a generated app: request bodies and query strings checked against the model. */
export const VALIDATION_SOURCE = String.raw`import { invalid } from './http.js';
import type { EntityModel, FieldModel, Scalar } from './types.js';

const PLATFORM_COLUMNS = new Set(['id', 'created_at', 'updated_at']);
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:[Zz]|([+-])(\d{2}):?(\d{2}))$/;
const TIMESTAMP_HINT = 'must be an ISO 8601 timestamp with a zone, like "2024-01-31T12:00:00Z"';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isTimestamp(text: string): boolean {
  const match = TIMESTAMP.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const offsetHours = Number(match[8] ?? 0);
  const offsetMinutes = Number(match[9] ?? 0);
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month) &&
    hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 15 && offsetMinutes <= 59;
}

function describe(field: FieldModel): string {
  switch (field.type) {
    case 'string':
    case 'text':
      return 'must be a string';
    case 'integer':
      return 'must be a whole number';
    case 'number':
      return 'must be a number';
    case 'boolean':
      return 'must be true or false';
    case 'timestamp':
      return TIMESTAMP_HINT;
    case 'enum':
      return 'must be one of ' + (field.values ?? []).map((value) => JSON.stringify(value)).join(', ');
    case 'reference':
      return 'must be the id of a ' + (field.entity ?? 'row') + ' (a whole number from 1)';
  }
}

const SAFE_RANGE = 'must be between ' + Number.MIN_SAFE_INTEGER + ' and ' + Number.MAX_SAFE_INTEGER;

/** A JSON value for the field, as it goes to the database; throws 400 naming the field otherwise. */
function checkValue(field: FieldModel, value: unknown): Scalar {
  switch (field.type) {
    case 'string':
    case 'text': {
      if (typeof value !== 'string') throw invalid(field.name, describe(field));
      return checkText(field, value);
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(field.name, describe(field));
      if (!Number.isSafeInteger(value)) throw invalid(field.name, SAFE_RANGE);
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(field.name, describe(field));
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(field.name, describe(field));
      return value;
    case 'timestamp':
      if (typeof value !== 'string' || !isTimestamp(value)) throw invalid(field.name, describe(field));
      return value;
    case 'enum':
      if (typeof value !== 'string' || !(field.values ?? []).includes(value)) throw invalid(field.name, describe(field));
      return value;
    case 'reference':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalid(field.name, describe(field));
      return value;
  }
}

function checkText(field: FieldModel, value: string): string {
  if (value.includes('\u0000')) throw invalid(field.name, 'must not contain the character U+0000');
  if (field.maxLength !== undefined && value.length > field.maxLength && [...value].length > field.maxLength) {
    throw invalid(field.name, 'must be at most ' + field.maxLength + ' characters');
  }
  return value;
}

function fieldNamed(entity: EntityModel, name: string): FieldModel | undefined {
  return entity.fields.find((field) => field.name === name);
}

/**
 * A create (every required field without a default present) or a patch (only what is given)
 * body, checked: unknown fields, platform columns, types, enum values, null for required fields.
 * Returns the fields given, in definition order, with their values.
 */
export function readInput(entity: EntityModel, body: unknown, mode: 'create' | 'patch'): [FieldModel, Scalar][] {
  if (!isRecord(body)) throw invalid('body', 'must be a JSON object');
  for (const name of Object.keys(body)) {
    if (fieldNamed(entity, name)) continue;
    if (PLATFORM_COLUMNS.has(name)) throw invalid(name, 'is set by the platform and cannot be written');
    throw invalid(name, 'is not a field of ' + entity.name);
  }
  const values: [FieldModel, Scalar][] = [];
  for (const field of entity.fields) {
    if (!Object.hasOwn(body, field.name)) {
      if (mode === 'create' && field.required && !field.hasDefault) throw invalid(field.name, 'is required');
      continue;
    }
    const value = body[field.name];
    if (value === null) {
      if (field.required) throw invalid(field.name, 'is required and cannot be null');
      values.push([field, null]);
      continue;
    }
    values.push([field, checkValue(field, value)]);
  }
  return values;
}

const INTEGER_TEXT = /^-?\d{1,16}$/;
const NUMBER_TEXT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A query-string value for an equality filter on the field, parsed by the field's type. */
export function parseFilter(field: FieldModel, raw: string): Scalar {
  switch (field.type) {
    case 'string':
    case 'text':
      if (raw.includes('\u0000')) throw invalid(field.name, 'must not contain the character U+0000');
      return raw;
    case 'integer':
    case 'reference': {
      if (!INTEGER_TEXT.test(raw) || (field.type === 'reference' && !/^[1-9]/.test(raw))) throw invalid(field.name, describe(field));
      const value = Number(raw);
      if (!Number.isSafeInteger(value)) throw invalid(field.name, SAFE_RANGE);
      return value;
    }
    case 'number': {
      const value = NUMBER_TEXT.test(raw) ? Number(raw) : NaN;
      if (!Number.isFinite(value)) throw invalid(field.name, describe(field));
      return value;
    }
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw invalid(field.name, describe(field));
    case 'timestamp':
      if (!isTimestamp(raw)) throw invalid(field.name, describe(field));
      return raw;
    case 'enum':
      if (!(field.values ?? []).includes(raw)) throw invalid(field.name, describe(field));
      return raw;
  }
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

export interface ListQuery {
  readonly filters: [FieldModel, Scalar][];
  readonly limit: number;
  /** List rows whose id is greater than this. */
  readonly after: number;
}

const CURSOR_TEXT = /^after:([1-9]\d{0,15})$/;

/** The opaque cursor for the page after the row with this id. */
export function encodeCursor(id: number): string {
  return Buffer.from('after:' + id, 'utf8').toString('base64url');
}

function decodeCursor(name: string, raw: string): number {
  const match = /^[A-Za-z0-9_-]{1,64}$/.test(raw) ? CURSOR_TEXT.exec(Buffer.from(raw, 'base64url').toString('utf8')) : null;
  const id = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(id)) throw invalid(name, 'is not a cursor this API gave out (use the "next" of a list)');
  return id;
}

/**
 * ?<field>=<value>&limit=&cursor= : equality filters on fields, and keyset paging on id.
 * _limit and _cursor always mean paging (no field can start with _); limit and cursor do
 * unless the entity has a field of that name.
 */
export function readListQuery(entity: EntityModel, params: URLSearchParams): ListQuery {
  const filters: [FieldModel, Scalar][] = [];
  let limit = DEFAULT_LIMIT;
  let after = 0;
  const seen = new Set<string>();
  for (const [name, raw] of params) {
    if (seen.has(name)) throw invalid(name, 'must be given once');
    seen.add(name);
    const field = fieldNamed(entity, name);
    if (field) {
      filters.push([field, parseFilter(field, raw)]);
    } else if ((name === 'limit' || name === '_limit' || name === 'cursor' || name === '_cursor') && raw === '') {
      // Left empty: the default (a client may pass its "next" of null as nothing).
    } else if (name === 'limit' || name === '_limit') {
      const value = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
      if (!(value >= 1 && value <= MAX_LIMIT)) throw invalid(name, 'must be a whole number from 1 to ' + MAX_LIMIT);
      limit = value;
    } else if (name === 'cursor' || name === '_cursor') {
      after = decodeCursor(name, raw);
    } else {
      throw invalid(name, PLATFORM_COLUMNS.has(name) ? 'cannot be filtered on' : 'is not a field of ' + entity.name);
    }
  }
  return { filters, limit, after };
}

/** An id from a path segment, or undefined when the segment cannot be one (the answer is then 404). */
export function parseId(segment: string): number | undefined {
  if (!/^[1-9]\d{0,15}$/.test(segment)) return undefined;
  const id = Number(segment);
  return Number.isSafeInteger(id) ? id : undefined;
}
`;
