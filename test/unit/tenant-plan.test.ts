import { describe, expect, it } from '@jest/globals';
import type { ValidationError } from '../../lambdas/domain/errors.js';
import { PermanentError } from '../../lambdas/domain/errors.js';
import { parseProvisionRequest, placeTenant, planTenant } from '../../lambdas/domain/tenant-plan.js';

describe('provision requests and plans', () => {
  it('fills defaults: the pooled tier, a cache, the id as display name', () => {
    const plan = planTenant(parseProvisionRequest({ tenantId: 'acme' }), 'dev', 'c1');
    expect(plan).toMatchObject({
      tenantId: 'acme',
      tier: 'pooled',
      displayName: 'acme',
      scope: { environment: 'dev', cell: 'c1' },
      compute: { memoryMb: 256 },
      cache: { enabled: true },
    });
    expect(plan.names.database).toBe('hp_dev_c1_acme');
  });

  it('sizes a dedicated tenant larger and honours preferences within the tier', () => {
    const plan = planTenant(parseProvisionRequest({ tenantId: 'big', tier: 'dedicated', preferences: { memoryMb: 2048, cache: false } }), 'dev', 'c1');
    expect(plan.compute).toEqual({ memoryMb: 2048, cpuUnits: 1024 });
    expect(plan.cache.enabled).toBe(false);
    expect(() => planTenant(parseProvisionRequest({ tenantId: 'small', preferences: { memoryMb: 2048 } }), 'dev', 'c1')).toThrow(PermanentError);
  });

  it('names the field that is wrong', () => {
    const fieldOf = (body: unknown) => {
      try {
        parseProvisionRequest(body);
        return 'ok';
      } catch (error) {
        return (error as ValidationError).field;
      }
    };
    expect(fieldOf({ tenantId: 'ok-id', tier: 'gold' })).toBe('tier');
    expect(fieldOf({ tenantId: 'ok-id', preferences: { memoryMb: 1 } })).toBe('preferences.memoryMb');
    expect(fieldOf({ tenantId: 'ok-id', extra: true })).toBe('body');
    expect(fieldOf({})).toBe('tenantId');
    expect(fieldOf('nope')).toBe('body');
  });

  it('places a tenant in the first cell with room, or refuses naming the limit', () => {
    expect(placeTenant([{ cell: 'c1', tenants: 2, maxTenants: 2 }, { cell: 'c2', tenants: 0, maxTenants: 2 }])).toBe('c2');
    expect(() => placeTenant([{ cell: 'c1', tenants: 2, maxTenants: 2 }])).toThrow('no cell has room for another tenant (c1 holds 2/2 tenants)');
  });

  it('refuses a cell whose smallest hard limit is reached, naming that limit', () => {
    const cell = { cell: 'c1', maxTenants: 500, limits: { 'cache users per user group': 98, 'Cloud Map instances per namespace': 2000 } };
    expect(placeTenant([{ ...cell, tenants: 97 }])).toBe('c1');
    expect(() => placeTenant([{ ...cell, tenants: 98 }])).toThrow(
      'no cell has room for another tenant (c1 holds 98/98 tenants, the most its cache users per user group limit admits)',
    );
  });
});
