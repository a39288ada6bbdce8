import { badRequest } from './errors.js';
import type { WireField, WireParameter } from './protocol.js';

/** PostgreSQL type OIDs the parameters are bound as (fixed for the built-in types). */
export const PG_TYPE = {
  unspecified: 0,
  bool: 16,
  bytea: 17,
  int8: 20,
  json: 114,
  float8: 701,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  numeric: 1700,
  uuid: 2950,
} as const;

/** A statement ready for pg's extended protocol: `$n` placeholders, their values and their declared types. */
export interface BoundStatement {
  readonly text: string;
  readonly values: (string | Buffer | null)[];
  readonly types: number[];
}

/**
 * What each typeHint binds a stringValue as, and the form the service accepts for it (the SDK's
 * TypeHint documentation). Without a hint a string is bound as `varchar`, as the Data API does: a
 * string into a jsonb, uuid or timestamptz column fails with "is of type … but expression is of type
 * character varying" unless the statement casts it (`CAST(:plan AS jsonb)`) or the call hints it.
 */
const TYPE_HINTS: Record<string, { readonly type: number; readonly format?: RegExp; readonly formatName?: string }> = {
  JSON: { type: PG_TYPE.json },
  UUID: { type: PG_TYPE.uuid },
  DECIMAL: { type: PG_TYPE.numeric },
  DATE: { type: PG_TYPE.date, format: /^\d{4}-\d{2}-\d{2}$/, formatName: 'YYYY-MM-DD' },
  TIME: { type: PG_TYPE.time, format: /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/, formatName: 'HH:MM:SS[.FFF]' },
  TIMESTAMP: {
    type: PG_TYPE.timestamp,
    format: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
    formatName: 'YYYY-MM-DD HH:MM:SS[.FFF]',
  },
};

/**
 * Binds a Data API call's named parameters (`:name`) to PostgreSQL's positional ones (`$1`). Colons
 * inside string literals ('…', E'…'), quoted identifiers, dollar-quoted bodies, comments and `::`
 * casts are left alone. A name used twice is bound once. A `:name` with no parameter is refused, as
 * are array parameters (the service documents them as unsupported); parameters the statement does
 * not use are ignored.
 */
export function bindParameters(sql: string, parameters: readonly WireParameter[] = []): BoundStatement {
  const byName = new Map<string, WireParameter>();
  for (const parameter of parameters) {
    if (!parameter.name) throw badRequest('Parameter name must not be empty');
    byName.set(parameter.name, parameter);
  }
  const positions = new Map<string, number>();
  const values: (string | Buffer | null)[] = [];
  const types: number[] = [];
  let text = '';
  let i = 0;
  while (i < sql.length) {
    const skipped = skipNonCode(sql, i);
    if (skipped > i) {
      text += sql.slice(i, skipped);
      i = skipped;
      continue;
    }
    const ch = sql[i]!;
    if (ch === ':' && sql[i + 1] === ':') {
      text += '::';
      i += 2;
      continue;
    }
    const name = ch === ':' ? /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))?.[0] : undefined;
    if (name === undefined) {
      text += ch;
      i += 1;
      continue;
    }
    let position = positions.get(name);
    if (position === undefined) {
      const parameter = byName.get(name);
      if (parameter === undefined) throw badRequest(`No value specified for parameter :${name}`);
      const bound = bindValue(name, parameter);
      values.push(bound.value);
      types.push(bound.type);
      position = values.length;
      positions.set(name, position);
    }
    text += `$${position}`;
    i += 1 + name.length;
  }
  return { text, values, types };
}

/** One parameter's value as text (bytea as bytes) and the type it is declared as. */
function bindValue(name: string, parameter: WireParameter): { value: string | Buffer | null; type: number } {
  const field: WireField = parameter.value ?? {};
  const hint = parameter.typeHint === undefined ? undefined : TYPE_HINTS[parameter.typeHint];
  if (parameter.typeHint !== undefined && hint === undefined) {
    throw badRequest(`Invalid typeHint ${parameter.typeHint} for parameter :${name}`);
  }
  if (field.arrayValue !== undefined) throw badRequest('Array parameters are not supported');
  if (field.isNull) return { value: null, type: hint?.type ?? PG_TYPE.unspecified };
  if (field.stringValue !== undefined) {
    if (hint?.format && !hint.format.test(field.stringValue)) {
      throw badRequest(`Parameter :${name} with typeHint ${parameter.typeHint} must be of the form ${hint.formatName}`);
    }
    return { value: field.stringValue, type: hint?.type ?? PG_TYPE.varchar };
  }
  if (field.longValue !== undefined) {
    if (!/^-?\d+$/.test(String(field.longValue))) throw badRequest(`Parameter :${name} longValue is not an integer`);
    return { value: String(field.longValue), type: PG_TYPE.int8 };
  }
  if (field.doubleValue !== undefined) return { value: String(field.doubleValue), type: PG_TYPE.float8 };
  if (field.booleanValue !== undefined) return { value: field.booleanValue ? 'true' : 'false', type: PG_TYPE.bool };
  if (field.blobValue !== undefined) return { value: Buffer.from(field.blobValue, 'base64'), type: PG_TYPE.bytea };
  throw badRequest(`Parameter :${name} has no value`);
}

/** Where the literal, quoted identifier, dollar-quoted body or comment starting at `i` ends; `i` when none starts there. */
function skipNonCode(sql: string, i: number): number {
  const ch = sql[i];
  const next = sql[i + 1];
  if (ch === "'") return endOfQuoted(sql, i, "'", /[Ee]/.test(sql[i - 1] ?? '') && !/[A-Za-z0-9_]/.test(sql[i - 2] ?? ''));
  if (ch === '"') return endOfQuoted(sql, i, '"', false);
  if (ch === '-' && next === '-') {
    const end = sql.indexOf('\n', i);
    return end === -1 ? sql.length : end;
  }
  if (ch === '/' && next === '*') return endOfBlockComment(sql, i);
  if (ch === '$' && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? '')) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))?.[0];
    if (tag !== undefined) {
      const end = sql.indexOf(tag, i + tag.length);
      return end === -1 ? sql.length : end + tag.length;
    }
  }
  return i;
}

function endOfQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === '\\') {
      i += 2;
    } else if (ch === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i += 2;
    } else {
      i += 1;
    }
  }
  return sql.length;
}

/** PostgreSQL's block comments nest. */
function endOfBlockComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return sql.length;
}
