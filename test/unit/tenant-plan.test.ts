import { describe, expect, it } from '@jest/globals';
import type { ValidationError } from '../../lambdas/domain/errors.js';
import { PermanentError } from '../../lambdas/domain/errors.js';
import { parseProvisionRequest, placeCache, placeTenant, planTenant, tenantCacheIndex } from '../../lambdas/domain/tenant-plan.js';

describe('provision requests and plans', () => {
  it('fills defaults: the pooled tier, a cache, the id as display name', () => {
    const plan = planTenant(parseProvisionRequest({ tenantId: 'acme' }), 'dev', 'c1');
    expect(plan).toMatchObject({
      tenantId: 'acme',
      tier: 'pooled',
      displayName: 'acme',
      scope: { environment: 'dev', cell: 'c1' },
      // Small reservations, a hard limit above them: a pooled tenant is mostly idle (lib/cell-capacity.ts).
      compute: { memoryMb: 512, memoryReservationMb: 128, cpuUnits: 32 },
      database: { connectionLimit: 6 },
      cache: { enabled: true, index: 0 },
    });
    expect(plan.names.database).toBe('hp_dev_c1_acme');
  });

  it('sizes a dedicated tenant larger and honours preferences within the tier', () => {
    const plan = planTenant(parseProvisionRequest({ tenantId: 'big', tier: 'dedicated', preferences: { memoryMb: 2048, cache: false } }), 'dev', 'c1');
    expect(plan.compute).toEqual({ memoryMb: 2048, memoryReservationMb: 1024, cpuUnits: 1024 });
    expect(plan.cache).toEqual({ enabled: false });
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

  it('records the cache placement chose, and reads a plan made before cells had several caches as cache 0', () => {
    expect(planTenant(parseProvisionRequest({ tenantId: 'acme' }), 'dev', 'c1', 4).cache).toEqual({ enabled: true, index: 4 });
    expect(tenantCacheIndex({ cache: { enabled: true, index: 4 } })).toBe(4);
    expect(tenantCacheIndex({ cache: { enabled: true } })).toBe(0);
  });

  it('places a tenant\'s cache user on the cache holding the fewest, the first of them on a tie', () => {
    expect(placeCache('c1', [3, 1, 2, 1], 98)).toBe(1);
    expect(placeCache('c1', [0, 0, 0], 98)).toBe(0);
    expect(placeCache('c1', [5])).toBe(0);
  });

  it('refuses, naming the limit, when every cache of the cell is full', () => {
    expect(() => placeCache('c1', [98, 98], 98)).toThrow(
      "no cache of cell c1 has room for another tenant's cache user: each of its 2 holds 98, the most a user group admits (ElastiCache users per user group, less the platform's 2)",
    );
    expect(() => placeCache('c1', [])).toThrow('cell c1 has no cache');
  });
});
