import { describe, expect, it } from '@jest/globals';
import { toPositional } from '../../lambdas/ports/named-parameters.js';

describe('toPositional', () => {
  it('numbers named parameters in order of first use and reuses a repeated name', () => {
    const { text, values } = toPositional('SELECT :a, :b, :a', { a: 1, b: 'x' });
    expect(text).toBe('SELECT $1, $2, $1');
    expect(values).toEqual([1, 'x']);
  });

  it('leaves casts, string literals, quoted identifiers and comments alone', () => {
    const sql = `SELECT ':notParam', "col:x", CAST(:v AS jsonb), now()::text -- :comment\n, :w`;
    const { text, values } = toPositional(sql, { v: '{}', w: true });
    expect(text).toBe(`SELECT ':notParam', "col:x", CAST($1 AS jsonb), now()::text -- :comment\n, $2`);
    expect(values).toEqual(['{}', true]);
  });

  it('handles doubled quotes inside literals', () => {
    expect(toPositional(`SELECT 'it''s :x', :y`, { y: 2 }).text).toBe(`SELECT 'it''s :x', $1`);
  });

  it('refuses a parameter with no value', () => {
    expect(() => toPositional('SELECT :missing', {})).toThrow(':missing has no value');
  });
});
