import pg from 'pg';
import type { FieldDef } from 'pg';
import { DataApiError } from './errors.js';
import type { ColumnMetadata, ResultSetOptions, WireArrayValue, WireField } from './protocol.js';

/** A column's PostgreSQL type: its name (`int4`, `timestamptz`, `_text`) and, for an array, its element's. */
export interface PgTypeInfo {
  readonly name: string;
  readonly element?: string;
}

/** A raw value as PostgreSQL's text output gives it (the emulator parses nothing on the way in). */
export type RawValue = string | null;

const LONG_TYPES = new Set(['int2', 'int4', 'oid']);
const DOUBLE_TYPES = new Set(['float4', 'float8']);
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'name', 'char', 'citext']);

/** JDBC type codes (java.sql.Types) that pgjdbc, under the Data API, reports for each PostgreSQL type. */
const JDBC_TYPES: Record<string, number> = {
  bool: -7,
  int2: 5,
  int4: 4,
  int8: -5,
  oid: -5,
  float4: 7,
  float8: 8,
  numeric: 2,
  money: 8,
  text: 12,
  varchar: 12,
  name: 12,
  bpchar: 1,
  char: 1,
  date: 91,
  time: 92,
  timetz: 92,
  timestamp: 93,
  timestamptz: 93,
  bytea: -2,
};
const JDBC_ARRAY = 2003;
const JDBC_OTHER = 1111;

/** Parses PostgreSQL's text form of an array into nested strings (pg's own parser for text[]). */
const TEXT_ARRAY_OID = 1009;
const parseTextArray = (pg.types.getTypeParser as (oid: number, format: 'text') => (text: string) => unknown[])(TEXT_ARRAY_OID, 'text');

/** One value as the Data API types it in `records`. */
export function toField(raw: RawValue, type: PgTypeInfo, options: ResultSetOptions, scale: number): WireField {
  if (raw === null) return { isNull: true };
  if (type.element !== undefined) return { arrayValue: toArrayValue(parseTextArray(raw), type.element, options) };
  const name = type.name;
  if (name === 'bool') return { booleanValue: raw === 't' };
  if (LONG_TYPES.has(name)) return { longValue: Number(raw) };
  if (name === 'int8') return options.longReturnType === 'STRING' ? { stringValue: raw } : { longValue: Number(raw) };
  if (DOUBLE_TYPES.has(name)) {
    const value = Number(raw);
    return Number.isFinite(value) ? { doubleValue: value } : { stringValue: raw };
  }
  if (name === 'numeric' && options.decimalReturnType === 'DOUBLE_OR_LONG' && Number.isFinite(Number(raw))) {
    return scale === 0 && /^-?\d+$/.test(raw) ? { longValue: Number(raw) } : { doubleValue: Number(raw) };
  }
  if (name === 'timestamptz') return { stringValue: withoutUtcOffset(raw) };
  if (name === 'bytea') return { blobValue: Buffer.from(raw.replace(/^\\x/, ''), 'hex').toString('base64') };
  return { stringValue: raw };
}

/**
 * The sessions run with `TimeZone=UTC`, so a timestamptz comes out as `2026-11-23 14:11:20.123456+00`;
 * the Data API gives it in UTC without the offset.
 */
function withoutUtcOffset(raw: string): string {
  return raw.replace(/\+00(:00)?$/, '');
}

/** A one-dimensional array as the Data API types it; it refuses multidimensional ones (UnsupportedResultException's own doc). */
function toArrayValue(items: unknown[], element: string, options: ResultSetOptions): WireArrayValue {
  if (items.some(Array.isArray)) throw new DataApiError('UnsupportedResultException', 'The result contains a multidimensional array');
  const texts = items as (string | null)[];
  if (element === 'bool') return { booleanValues: texts.map((t) => (t === null ? null : t === 't')) };
  if (LONG_TYPES.has(element) || (element === 'int8' && options.longReturnType !== 'STRING')) {
    return { longValues: texts.map((t) => (t === null ? null : Number(t))) };
  }
  if (DOUBLE_TYPES.has(element)) return { doubleValues: texts.map((t) => (t === null ? null : Number(t))) };
  return { stringValues: texts };
}

/** `columnMetadata` for one column, from the row description and the type's name. */
export function toColumnMetadata(field: FieldDef, type: PgTypeInfo): ColumnMetadata {
  const { precision, scale } = precisionAndScale(field, type);
  const name = type.name;
  return {
    name: field.name,
    label: field.name,
    type: type.element !== undefined ? JDBC_ARRAY : (JDBC_TYPES[name] ?? JDBC_OTHER),
    typeName: name,
    schemaName: '',
    tableName: '',
    isAutoIncrement: false,
    isSigned: LONG_TYPES.has(name) || DOUBLE_TYPES.has(name) || name === 'int8' || name === 'numeric',
    isCurrency: name === 'money',
    isCaseSensitive: TEXT_TYPES.has(name),
    // columnNullableUnknown: the row description does not say, and the emulator does not look it up.
    nullable: 2,
    precision,
    scale,
    arrayBaseColumnType: type.element !== undefined ? (JDBC_TYPES[type.element] ?? JDBC_OTHER) : 0,
  };
}

/** Precision and scale from the type modifier (numeric(p,s), varchar(n)), as pgjdbc reads them. */
export function precisionAndScale(field: FieldDef, type: PgTypeInfo): { precision: number; scale: number } {
  const modifier = field.dataTypeModifier;
  if (type.name === 'numeric' && modifier >= 4) {
    return { precision: ((modifier - 4) >> 16) & 0xffff, scale: (modifier - 4) & 0xffff };
  }
  if ((type.name === 'varchar' || type.name === 'bpchar') && modifier >= 4) return { precision: modifier - 4, scale: 0 };
  return { precision: field.dataTypeSize > 0 ? field.dataTypeSize : 0, scale: 0 };
}

/** `formattedRecords` (formatRecordsAs JSON): one object per row, keyed by column label, values as plain JSON. */
export function toFormattedRecords(records: WireField[][], columns: readonly FieldDef[]): string {
  const rows = records.map((record) => {
    const row: Record<string, unknown> = {};
    record.forEach((field, i) => {
      row[columns[i]!.name] = plainValue(field);
    });
    return row;
  });
  return JSON.stringify(rows);
}

function plainValue(field: WireField): unknown {
  if (field.isNull) return null;
  if (field.arrayValue !== undefined) return plainArray(field.arrayValue);
  return field.booleanValue ?? field.longValue ?? field.doubleValue ?? field.stringValue ?? field.blobValue ?? null;
}

function plainArray(array: WireArrayValue): unknown[] {
  return array.booleanValues ?? array.longValues ?? array.doubleValues ?? array.stringValues ?? (array.arrayValues ?? []).map(plainArray);
}
