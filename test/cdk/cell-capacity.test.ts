import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ErrorNames } from '../../lambdas/domain/errors.js';
import { placeCache, placeTenant, type CellOccupancy } from '../../lambdas/domain/tenant-plan.js';
import { cacheTenantsPerCache, cellLimits, cellLimitsMarkdown, cellLimitsTable, cellMaxTenants, instanceResources } from '../../lib/cell-capacity.js';
import { cellConfigSchema } from '../../lib/hostplane-config.js';
import { REPOSITORY_ROOT } from '../../lib/hostplane-function.js';

const REPOSITORY = REPOSITORY_ROOT;
const DEFAULTS = cellConfigSchema.parse({ name: 'c1' });
const MEMORY_LIMIT = 'memory reserved (10 × m7g.large, 128 MiB a pooled tenant)';

/** Places tenants one by one into an empty cell until placement refuses; returns how many fit and the refusal. */
function fill(cell: Omit<CellOccupancy, 'tenants'>, atMost: number): { admitted: number; refusal: unknown } {
  for (let tenants = 0; tenants <= atMost; tenants += 1) {
    try {
      placeTenant([{ ...cell, tenants }]);
    } catch (refusal) {
      return { admitted: tenants, refusal };
    }
  }
  return { admitted: atMost + 1, refusal: undefined };
}

describe('the limits of a cell', () => {
  it('knows the vCPUs and memory of Graviton types, and refuses a type it cannot size, by name', () => {
    expect(instanceResources('m7g.large')).toEqual({ vcpus: 2, memoryMiB: 8192 });
    expect(instanceResources('c7gn.2xlarge')).toEqual({ vcpus: 8, memoryMiB: 16_384 });
    expect(instanceResources('r8g.xlarge')).toEqual({ vcpus: 4, memoryMiB: 32_768 });
    expect(instanceResources('t4g.small')).toEqual({ vcpus: 2, memoryMiB: 2048 });
    expect(() => instanceResources('x2gd.large')).toThrow('instanceType x2gd.large: its vCPUs and memory are not known');
  });

  it('admits at least 500 pooled tenants on every limit at the default settings, its six caches holding 98 tenants\' users each', () => {
    const rows = cellLimitsTable(DEFAULTS, 'tenant');
    const below500 = rows.filter((row) => row.tenants < 500).map((row) => `${row.limit}: ${row.tenants}`);

    expect(DEFAULTS.caches).toBe(6);
    expect(cacheTenantsPerCache()).toBe(98);
    expect(below500).toEqual([]);
    expect(Object.fromEntries(rows.map((row) => [row.limit.replace(/ \(.*/, ''), row.tenants]))).toEqual({
      'CPU units reserved': 624,
      'memory reserved': 576,
      'dynamic host ports': 141_160,
      'ElastiCache users per user group': 588,
      'Aurora connections at 16 ACU': 592,
      'Cloud Map instances per namespace': 1000,
      'EFS access points per file system': 9999,
      'ECS services per cluster': 4999,
      'IAM roles per account': 900,
      'S3 buckets per account': 9990,
      'Route 53 records per hosted zone': 4999,
      'CloudFront distribution tenants per account': 10_000,
    });
    for (const row of rows) expect(row.source).not.toBe('');
  });

  it('follows the settings: more instances, more ACUs and a bigger type raise what they bound', () => {
    const bigger = cellConfigSchema.parse({ name: 'c1', instanceType: 'm7g.xlarge', maxCapacity: 20, auroraMaxAcu: 32 });
    const limits = cellLimits(bigger, 'tenant');

    expect(limits['CPU units reserved (20 × m7g.xlarge, 32 a pooled tenant)']).toBe(128 * 20 - 16);
    expect(limits['memory reserved (20 × m7g.xlarge, 128 MiB a pooled tenant)']).toBe(Math.floor((Math.floor(16_384 * 0.95) - 256) / 128) * 20 - 4);
    // 32 ACU is 64 GiB: 7,209 connections by memory, capped at 5,000.
    expect(limits['Aurora connections at 32 ACU (6 a pooled tenant)']).toBe(Math.floor((5000 - 50) / 6));
  });

  it('binds a dedicated-edge cell at the CloudFront function quota, and names every CloudFront limit of that mode', () => {
    const limits = cellLimits(DEFAULTS, 'dedicated');

    expect(limits).toEqual(
      expect.objectContaining({
        'CloudFront distributions per account (500)': 499,
        'CloudFront distributions per origin access control (100)': 100,
        'CloudFront distributions per function (100)': 100,
        'CloudFront functions per account (100)': 99,
      }),
    );
    expect(limits).not.toHaveProperty(['CloudFront distribution tenants per account (10000)']);
    expect(cellMaxTenants(DEFAULTS, 'dedicated')).toBe(99);
  });

  it('counts the cache users of every cache: one cache binds the cell at 98, three at 294', () => {
    expect(cellLimits({ ...DEFAULTS, caches: 1 }, 'tenant')['ElastiCache users per user group (100, 1 cache)']).toBe(98);
    expect(cellMaxTenants({ ...DEFAULTS, caches: 1 }, 'tenant')).toBe(98);
    expect(cellMaxTenants({ ...DEFAULTS, caches: 3 }, 'tenant')).toBe(294);
  });

  it('lets ops ask for fewer tenants than the limits admit', () => {
    expect(cellMaxTenants(DEFAULTS, 'tenant')).toBe(576);
    expect(cellMaxTenants({ ...DEFAULTS, maxTenants: 40 }, 'tenant')).toBe(40);
  });

  it('is the table docs/aws.md shows', () => {
    const doc = readFileSync(join(REPOSITORY, 'docs', 'aws.md'), 'utf8');
    expect(doc).toContain(cellLimitsMarkdown(cellLimitsTable(DEFAULTS, 'tenant')));
  });
});

describe('placement against the limits table', () => {
  it('admits 576 pooled tenants at the default settings, spread over the six caches, and refuses the 577th before anything is made, naming the memory the fleet can reserve', () => {
    const cell = { cell: 'c1', maxTenants: cellMaxTenants(DEFAULTS, 'tenant'), limits: cellLimits(DEFAULTS, 'tenant') };
    const tenantsByCache = Array.from({ length: DEFAULTS.caches }, () => 0);

    let refusal: unknown;
    for (let tenants = 0; tenants <= 1000 && refusal === undefined; tenants += 1) {
      try {
        placeTenant([{ ...cell, tenants }]);
        tenantsByCache[placeCache('c1', tenantsByCache, cacheTenantsPerCache())]! += 1;
      } catch (error) {
        refusal = error;
      }
    }

    expect(tenantsByCache.reduce((a, b) => a + b, 0)).toBe(576);
    expect(tenantsByCache).toEqual([96, 96, 96, 96, 96, 96]);
    expect(refusal).toMatchObject({
      name: ErrorNames.permanent,
      message: `no cell has room for another tenant (c1 holds 576/576 tenants, the most its ${MEMORY_LIMIT} limit admits)`,
    });
  });

  it('admits 98 pooled tenants in a cell of one cache and refuses the 99th, naming the cache-user limit', () => {
    const oneCache = { ...DEFAULTS, caches: 1 };
    const cell = { cell: 'c1', maxTenants: cellMaxTenants(oneCache, 'tenant'), limits: cellLimits(oneCache, 'tenant') };

    const { admitted, refusal } = fill(cell, 1000);

    expect(admitted).toBe(98);
    expect((refusal as Error).message).toBe(
      'no cell has room for another tenant (c1 holds 98/98 tenants, the most its ElastiCache users per user group (100, 1 cache) limit admits)',
    );
  });

  it('refuses the 501st tenant of a cell that ops capped at 500', () => {
    const { admitted, refusal } = fill({ cell: 'c1', maxTenants: 500, limits: cellLimits(DEFAULTS, 'tenant') }, 1000);

    expect(admitted).toBe(500);
    expect((refusal as Error).message).toBe('no cell has room for another tenant (c1 holds 500/500 tenants)');
  });
});
