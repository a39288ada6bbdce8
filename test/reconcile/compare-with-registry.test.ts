import { describe, expect, it } from '@jest/globals';
import { tenantResourceNames } from '../../lambdas/domain/naming.js';
import { tenantIdSchema } from '../../lambdas/domain/tenant-id.js';
import { parseProvisionRequest, planTenant } from '../../lambdas/domain/tenant-plan.js';
import type { TenantStatus } from '../../lambdas/domain/tenant-status.js';
import { compareWithRegistry, tenantOfName, type Inventory, type TenantToCheck } from '../../lambdas/reconcile/find-drift.js';

const environment = 'dev';
const cell = 'local';

function tenant(tenantId: string, status: TenantStatus, { cache = true, runningOperation = null as TenantToCheck['runningOperation'] } = {}): TenantToCheck {
  const plan = planTenant(parseProvisionRequest({ tenantId, preferences: { cache } }), environment, cell);
  return { tenantId, status, cell, plan, runningOperation };
}

const endpointOf = (tenantId: string) => `127.0.0.1:${4000 + tenantId.length}`;

/** Everything a whole tenant has, as the listings would show it. */
function inventoryOf(tenantIds: readonly string[], { cache = true }: { cache?: boolean } = {}): Inventory {
  const names = tenantIds.map((id) => tenantResourceNames({ environment, cell }, tenantIdSchema.parse(id)));
  return {
    databases: names.map((n) => n.database),
    roles: names.map((n) => n.role),
    cache: cache ? { available: true } : { available: false, reason: 'no Redis reachable at redis://127.0.0.1:1 (connection refused)' },
    cacheUsers: cache ? names.map((n) => n.cacheUser) : [],
    secrets: names.flatMap((n) => (cache ? [n.databaseSecret, n.cacheSecret] : [n.databaseSecret])),
    services: names.map((n) => ({ name: n.computeService, running: true, endpoint: endpointOf(n.tenantId) })),
    routes: names.map((n) => ({ tenantId: n.tenantId, hostLabel: n.hostLabel, endpoint: endpointOf(n.tenantId), assetsBucket: n.assetsBucket })),
    staticAssets: names.map((n) => n.assetsBucket),
    appFolders: names.map((n) => n.tenantId),
  };
}

function without(inventory: Inventory, changes: Partial<Inventory>): Inventory {
  return { ...inventory, ...changes };
}

const checkedAt = new Date('2025-01-02T03:04:05Z');
const compare = (tenants: TenantToCheck[], inventory: Inventory) => compareWithRegistry(tenants, inventory, { environment, cells: [cell], checkedAt });
const problemsOf = (report: ReturnType<typeof compare>, tenantId: string) => report.tenants.find((t) => t.tenantId === tenantId)?.problems;

describe('compareWithRegistry', () => {
  it('lists a whole ACTIVE tenant with no problems, and says when it checked', () => {
    const report = compare([tenant('acme', 'ACTIVE')], inventoryOf(['acme']));

    expect(report).toEqual({
      environment,
      checkedAt: '2025-01-02T03:04:05.000Z',
      tenants: [{ tenantId: 'acme', status: 'ACTIVE', problems: [] }],
      unknown: [],
      notes: [],
    });
  });

  it('names every missing resource of an ACTIVE tenant', () => {
    const whole = inventoryOf(['acme']);
    const inventory = without(whole, { databases: [], roles: [], cacheUsers: [], secrets: [], services: [], routes: [], staticAssets: [], appFolders: [] });

    const problems = problemsOf(compare([tenant('acme', 'ACTIVE')], inventory), 'acme');

    expect(problems?.map((p) => `${p.kind} ${p.resource} ${p.detail}`)).toEqual([
      'missing database hp_dev_local_acme',
      'missing role hp_dev_local_acme_app',
      'missing cache user hp-dev-local-acme',
      'missing secrets hostplane/dev/local/acme/cache',
      'missing secrets hostplane/dev/local/acme/database',
      'missing compute hp-dev-local-acme',
      'missing route acme',
      'missing static assets hp-dev-local-acme-assets',
      'missing app files tenants/acme',
    ]);
  });

  it('reports compute that is not running, and a route that forwards elsewhere, as status problems', () => {
    const whole = inventoryOf(['acme']);
    const inventory = without(whole, {
      services: [{ ...whole.services[0]!, running: false }],
      routes: [{ ...whole.routes[0]!, endpoint: '127.0.0.1:1' }],
    });

    const problems = problemsOf(compare([tenant('acme', 'ACTIVE')], inventory), 'acme');

    expect(problems).toEqual([
      { kind: 'status', resource: 'compute', name: 'hp-dev-local-acme', detail: 'hp-dev-local-acme is not running' },
      { kind: 'status', resource: 'route', name: 'acme', detail: `acme forwards to 127.0.0.1:1, but hp-dev-local-acme answers at ${endpointOf('acme')}` },
    ]);
  });

  it('expects no cache user of a tenant whose plan has no cache, and reports one that exists as orphaned', () => {
    const report = compare([tenant('acme', 'ACTIVE', { cache: false })], inventoryOf(['acme']));

    expect(problemsOf(report, 'acme')).toEqual([
      { kind: 'orphaned', resource: 'cache user', name: 'hp-dev-local-acme', detail: 'hp-dev-local-acme' },
      { kind: 'orphaned', resource: 'secrets', name: 'hostplane/dev/local/acme/cache', detail: 'hostplane/dev/local/acme/cache' },
    ]);
    expect(problemsOf(compare([tenant('acme', 'ACTIVE', { cache: false })], inventoryOf(['acme'], { cache: false })), 'acme')).toEqual([]);
  });

  it('expects no cache user when no cache is available, leaves the cache secret undecided, and notes why', () => {
    const withSecret = inventoryOf(['acme'], { cache: false });
    const names = tenantResourceNames({ environment, cell }, tenantIdSchema.parse('acme'));

    const report = compare([tenant('acme', 'ACTIVE')], without(withSecret, { secrets: [names.databaseSecret, names.cacheSecret] }));

    expect(problemsOf(report, 'acme')).toEqual([]);
    expect(report.notes).toEqual(['cache users not checked: no Redis reachable at redis://127.0.0.1:1 (connection refused)']);
  });

  it('reports everything a DELETED, FAILED or DEPROVISION_FAILED tenant still has as orphaned', () => {
    const tenants = [tenant('gone', 'DELETED'), tenant('broke', 'FAILED'), tenant('half', 'DEPROVISION_FAILED'), tenant('clean', 'DELETED')];

    const report = compare(tenants, inventoryOf(['gone', 'broke', 'half']));

    for (const id of ['gone', 'broke', 'half']) {
      const problems = problemsOf(report, id)!;
      expect(problems.map((p) => p.kind)).toEqual(Array(9).fill('orphaned'));
      expect(new Set(problems.map((p) => p.resource))).toEqual(
        new Set(['database', 'role', 'cache user', 'secrets', 'compute', 'route', 'static assets', 'app files']),
      );
    }
    expect(problemsOf(report, 'clean')).toEqual([]);
    expect(report.unknown).toEqual([]);
  });

  it('skips tenants being provisioned or deprovisioned, or with an operation running, and says why', () => {
    const tenants = [
      tenant('newer', 'PROVISIONING'),
      tenant('leaving', 'DEPROVISIONING'),
      tenant('busy', 'ACTIVE', { runningOperation: { operationId: 'op-1', kind: 'deploy' } }),
    ];

    const report = compare(tenants, inventoryOf(['leaving']));

    expect(report.tenants).toEqual([
      { tenantId: 'newer', status: 'PROVISIONING', problems: [], skipped: 'it is being provisioned' },
      { tenantId: 'leaving', status: 'DEPROVISIONING', problems: [], skipped: 'it is being deprovisioned' },
      { tenantId: 'busy', status: 'ACTIVE', problems: [], skipped: 'a deploy operation is running (op-1)' },
    ]);
  });

  it('lists the resources of tenants the registry does not know, by the tenant their names were derived for', () => {
    const inventory = inventoryOf(['acme', 'ghost']);

    const report = compare([tenant('acme', 'ACTIVE')], inventory);

    expect(problemsOf(report, 'acme')).toEqual([]);
    expect(report.unknown.map((u) => `${u.tenantId} ${u.kind} ${u.resource} ${u.name}`)).toEqual([
      'ghost orphaned database hp_dev_local_ghost',
      'ghost orphaned role hp_dev_local_ghost_app',
      'ghost orphaned cache user hp-dev-local-ghost',
      'ghost orphaned secrets hostplane/dev/local/ghost/cache',
      'ghost orphaned secrets hostplane/dev/local/ghost/database',
      'ghost orphaned compute hp-dev-local-ghost',
      'ghost orphaned route ghost',
      'ghost orphaned static assets hp-dev-local-ghost-assets',
      'ghost orphaned app files tenants/ghost',
    ]);
  });

  it('attributes a shortened name to the registry tenant it was derived for, and a name of no tenant to none', () => {
    const longId = 'a-tenant-with-a-rather-long-name-to-cut';
    const names = tenantResourceNames({ environment, cell }, tenantIdSchema.parse(longId));
    expect(names.cacheUser).toMatch(/-[0-9a-f]{8}$/);

    const known = compare([tenant(longId, 'DELETED')], without(inventoryOf([]), { cacheUsers: [names.cacheUser] }));
    const stray = compare([], without(inventoryOf([]), { cacheUsers: ['hp-dev-nocell'] }));

    expect(problemsOf(known, longId)).toEqual([{ kind: 'orphaned', resource: 'cache user', name: names.cacheUser, detail: names.cacheUser }]);
    expect(known.unknown).toEqual([]);
    expect(stray.unknown).toEqual([{ kind: 'orphaned', resource: 'cache user', name: 'hp-dev-nocell', detail: 'hp-dev-nocell', tenantId: null }]);
  });

  it('reads a tenant back from a name only when deriving the name again gives the same name', () => {
    expect(tenantOfName('database', 'hp_dev_local_my_shop', environment)).toBe('my-shop');
    expect(tenantOfName('role', 'hp_dev_local_my_shop_app', environment)).toBe('my-shop');
    expect(tenantOfName('secrets', 'hostplane/dev/eu1/acme/cache', environment)).toBe('acme');
    expect(tenantOfName('static assets', 'hp-dev-local-acme-assets', environment)).toBe('acme');
    expect(tenantOfName('database', 'hp_prod_local_acme', environment)).toBeNull();
    expect(tenantOfName('compute', 'hp-dev-local-Acme', environment)).toBeNull();
    expect(tenantOfName('database', 'hp_dev_local_admin', environment)).toBeNull();
  });
});
