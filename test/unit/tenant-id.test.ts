import { describe, expect, it } from '@jest/globals';
import { tenantIdSchema } from '../../lambdas/domain/tenant-id.js';

const reason = (id: unknown) => {
  const result = tenantIdSchema.safeParse(id);
  return result.success ? 'ok' : result.error.issues[0]!.message;
};

describe('tenant ids', () => {
  it.each(['acme', 'a1b', 'big-shop-2', 'x'.repeat(40)])('accepts %s', (id) => {
    expect(reason(id)).toBe('ok');
  });

  it.each([
    ['ab', 'must be 3 to 40 characters'],
    ['x'.repeat(41), 'must be 3 to 40 characters'],
    ['Acme', 'may contain only lowercase letters, digits and hyphens'],
    ['ac_me', 'may contain only lowercase letters, digits and hyphens'],
    ['acme.com', 'may contain only lowercase letters, digits and hyphens'],
    ['1acme', 'must start with a letter'],
    ['-acme', 'must start with a letter'],
    ['acme-', 'must not end with a hyphen'],
    ['xn--acme', 'must not contain two hyphens in a row'],
    ['admin', 'is a reserved word'],
    ['www', 'is a reserved word'],
    [42, 'must be a string'],
  ])('refuses %j: %s', (id, message) => {
    expect(reason(id)).toBe(message);
  });
});
