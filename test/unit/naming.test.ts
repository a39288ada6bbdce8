import { describe, expect, it } from '@jest/globals';
import { fitName, registryDatabaseName, tenantResourceNames } from '../../lambdas/domain/naming.js';
import { tenantIdSchema } from '../../lambdas/domain/tenant-id.js';
import type { TenantId } from '../../lambdas/domain/tenant-id.js';

const id = (s: string) => s as TenantId;

describe('tenantResourceNames', () => {
  it('derives every name from environment, cell and tenant', () => {
    expect(tenantResourceNames({ environment: 'prod', cell: 'c1' }, id('big-shop'))).toEqual({
      tenantId: 'big-shop',
      database: 'hp_prod_c1_big_shop',
      role: 'hp_prod_c1_big_shop_app',
      schema: 'app',
      cacheUser: 'hp-prod-c1-big-shop',
      cacheKeyPattern: 't:big-shop:*',
      cacheChannelPattern: 't:big-shop:*',
      databaseSecret: 'hostplane/prod/c1/big-shop/database',
      cacheSecret: 'hostplane/prod/c1/big-shop/cache',
      computeService: 'hp-prod-c1-big-shop',
      assetsBucket: 'hp-prod-c1-big-shop-assets',
      appFilesFolder: 'tenants/big-shop',
      hostLabel: 'big-shop',
    });
  });

  it('gives two environments disjoint names for the same tenant', () => {
    const dev = tenantResourceNames({ environment: 'dev', cell: 'c1' }, id('acme'));
    const prod = tenantResourceNames({ environment: 'prod', cell: 'c1' }, id('acme'));
    for (const key of ['database', 'role', 'cacheUser', 'databaseSecret', 'cacheSecret', 'computeService', 'assetsBucket'] as const) {
      expect(dev[key]).not.toBe(prod[key]);
    }
  });

  it('keeps the longest names within their limits, still unique', () => {
    const a = tenantResourceNames({ environment: 'environment1', cell: 'cellcell' }, id(`${'a'.repeat(39)}b`));
    const b = tenantResourceNames({ environment: 'environment1', cell: 'cellcell' }, id(`${'a'.repeat(39)}c`));
    expect(a.database.length).toBeLessThanOrEqual(63);
    expect(a.role.length).toBeLessThanOrEqual(63);
    expect(a.cacheUser.length).toBeLessThanOrEqual(40);
    expect(a.assetsBucket.length).toBeLessThanOrEqual(63);
    expect(a.database).not.toBe(b.database);
    expect(a.role).not.toBe(b.role);
    expect(a.cacheUser).not.toBe(b.cacheUser);
    expect(a.database).toMatch(/^[a-z_][a-z0-9_]*$/);
  });

  it('refuses environment and cell names that could not live in every name', () => {
    expect(() => tenantResourceNames({ environment: 'Prod', cell: 'c1' }, id('acme'))).toThrow('environment must be');
    expect(() => tenantResourceNames({ environment: 'prod', cell: 'cell-1' }, id('acme'))).toThrow('cell must be');
    expect(() => registryDatabaseName('a;drop')).toThrow();
    expect(registryDatabaseName('prod')).toBe('hp_prod_registry');
  });
});

describe('fitName', () => {
  it('leaves short names alone and shortens long ones with a stable hash', () => {
    expect(fitName('short', 10)).toBe('short');
    const long = fitName('x'.repeat(80), 40);
    expect(long).toHaveLength(40);
    expect(fitName('x'.repeat(80), 40)).toBe(long);
    expect(fitName(`${'x'.repeat(79)}y`, 40)).not.toBe(long);
  });

  it("never shortens one tenant's names into another tenant's whole names", () => {
    const scope = { environment: 'dev', cell: 'local' };
    const long = tenantResourceNames(scope, tenantIdSchema.parse('a-tenant-with-a-rather-long-name-to-cut'));
    // The tenant whose id is what the shortened cache user ends with: its names must all differ.
    const lookalikeId = long.cacheUser.slice('hp-dev-local-'.length).replace(/-+/g, '-');
    const lookalike = tenantResourceNames(scope, tenantIdSchema.parse(lookalikeId));

    expect(long.cacheUser).toMatch(/--[0-9a-f]{8}$/);
    for (const key of ['cacheUser', 'database', 'role', 'assetsBucket', 'computeService'] as const) {
      expect(lookalike[key]).not.toBe(long[key]);
    }
  });
});
