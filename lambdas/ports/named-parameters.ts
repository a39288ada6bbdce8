import type { SqlParams, SqlValue } from './sql.js';

/**
 * Turns a statement with Data API style named parameters (`:tenantId`) into PostgreSQL's
 * positional form (`$1`), leaving string literals, quoted identifiers, comments and `::` casts alone.
 */
export function toPositional(sql: string, params: SqlParams = {}): { text: string; values: SqlValue[] } {
  const order = new Map<string, number>();
  const values: SqlValue[] = [];
  let text = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (ch === "'" || ch === '"') {
      const end = closingQuote(sql, i, ch);
      text += sql.slice(i, end);
      i = end;
    } else if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      text += sql.slice(i, stop);
      i = stop;
    } else if (ch === ':' && next === ':') {
      text += '::';
      i += 2;
    } else if (ch === ':' && next !== undefined && /[A-Za-z_]/.test(next)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))!;
      const name = match[0];
      if (!Object.hasOwn(params, name)) throw new Error(`SQL parameter :${name} has no value`);
      let position = order.get(name);
      if (position === undefined) {
        values.push(params[name]!);
        position = values.length;
        order.set(name, position);
      }
      text += `$${position}`;
      i += 1 + name.length;
    } else {
      text += ch;
      i += 1;
    }
  }
  return { text, values };
}

function closingQuote(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  return sql.length;
}
