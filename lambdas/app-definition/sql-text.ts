import { createHash } from 'node:crypto';

/** PostgreSQL truncates longer identifiers silently, which could make two derived names collide. */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * Quotes an identifier, refusing anything but the plain lowercase names the definition schema
 * lets through (and the names derived from them), so nothing unchecked reaches SQL.
 */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name) || name.length > MAX_IDENTIFIER_BYTES) {
    throw new Error(`refusing to quote an unexpected identifier: ${JSON.stringify(name)}`);
  }
  return `"${name}"`;
}

/** A string literal, for the server's standard_conforming_strings (on by default since 9.1). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A constraint or index name from its parts (`book_isbn_key`). A name longer than PostgreSQL
 * keeps is shortened with a hash of the whole, so it stays unique and the same on every run.
 */
export function derivedName(parts: readonly string[], suffix: string): string {
  const full = [...parts, suffix].join('_');
  if (full.length <= MAX_IDENTIFIER_BYTES) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  const head = parts.join('_').slice(0, MAX_IDENTIFIER_BYTES - hash.length - suffix.length - 2);
  return `${head}_${hash}_${suffix}`;
}
