/**
 * Drift: what the registry says about each tenant against what exists. Gathering (every listing
 * of this environment's resources, through the ports) is kept apart from the comparison, which
 * is pure, so the rules are tested with plain objects.
 */
import { registryDatabaseName, scopeSchema, tenantResourceNames, type TenantResourceNames } from '../domain/naming.js';
import { tenantIdSchema } from '../domain/tenant-id.js';
import type { TenantStatus } from '../domain/tenant-status.js';
import type { Ports } from '../ports/index.js';
import type { TenantRoute } from '../ports/edge.js';
import type { OperationRecord, TenantRecord } from '../registry/records.js';
import { TenantRegistry } from '../registry/tenant-registry.js';

/** The kinds of tenant resource, in the order a report lists them. */
export const DRIFT_RESOURCES = ['database', 'role', 'cache user', 'secrets', 'compute', 'route', 'static assets', 'app files'] as const;
export type DriftResource = (typeof DRIFT_RESOURCES)[number];

/** `missing`: expected and absent; `orphaned`: present and not expected; `status`: present but not as the registry says. */
export type DriftKind = 'missing' | 'orphaned' | 'status';

export interface DriftProblem {
  readonly kind: DriftKind;
  readonly resource: DriftResource;
  /** The resource's name (a host label for a route, `tenants/<id>` for app files). */
  readonly name: string;
  /** For a person: the name, or what is wrong with it. */
  readonly detail: string;
}

export interface TenantDrift {
  readonly tenantId: string;
  readonly status: TenantStatus;
  readonly problems: DriftProblem[];
  /** Why the tenant was not checked (an operation under way); its problems are then empty. */
  readonly skipped?: string;
}

/** A resource of this environment whose tenant the registry does not know. */
export interface UnknownResource extends DriftProblem {
  readonly kind: 'orphaned';
  /** The tenant its name was derived for, or null when the name says nothing certain (a shortened name). */
  readonly tenantId: string | null;
}

export interface DriftReport {
  readonly environment: string;
  readonly checkedAt: string;
  /** Every tenant of the registry, deleted ones included; those without drift have no problems. */
  readonly tenants: TenantDrift[];
  readonly unknown: UnknownResource[];
  /** What could not be checked, and why (no cache reachable). */
  readonly notes: string[];
}

/** Everything of one environment that exists, as its listings say. */
export interface Inventory {
  readonly databases: readonly string[];
  readonly roles: readonly string[];
  readonly cache: { readonly available: true } | { readonly available: false; readonly reason: string };
  /** Empty when no cache is available. */
  readonly cacheUsers: readonly string[];
  readonly secrets: readonly string[];
  readonly services: readonly { readonly name: string; readonly running: boolean; readonly endpoint: string }[];
  readonly routes: readonly TenantRoute[];
  readonly staticAssets: readonly string[];
  /** Entries of the app-files folder `tenants/`. */
  readonly appFolders: readonly string[];
}

/** A tenant as the comparison needs it: its registry record and the operation running on it, if any. */
export type TenantToCheck = Pick<TenantRecord, 'tenantId' | 'status' | 'cell' | 'plan'> & {
  readonly runningOperation?: Pick<OperationRecord, 'operationId' | 'kind'> | null;
};

export type DriftPorts = Pick<Ports, 'config' | 'sql' | 'cacheUsers' | 'secrets' | 'compute' | 'edge' | 'appFiles'>;

export const APP_FILES_ROOT = 'tenants';

/** The prefixes every name of `environment` starts with. */
export function environmentPrefixes(environment: string) {
  const env = scopeSchema.shape.environment.parse(environment);
  return { underscored: `hp_${env}_`, dashed: `hp-${env}-`, secrets: `hostplane/${env}/` } as const;
}

/** Compares the registry with what exists in `environment` and reports drift per tenant. */
export async function findDrift(ports: DriftPorts, { environment }: { environment: string }): Promise<DriftReport> {
  // What exists first, the registry after: a tenant created in between is then known to the
  // registry (and skipped, as it is provisioning), never taken for an unknown tenant's leftovers.
  const inventory = await gatherInventory(ports, environment);
  const tenants = await tenantsToCheck(new TenantRegistry(ports.sql));
  return compareWithRegistry(tenants, inventory, { environment, cells: ports.config.cells.map(({ cell }) => cell) });
}

/** The registry's tenants, deleted ones included, each with the operation running on it. */
export async function tenantsToCheck(registry: TenantRegistry): Promise<TenantToCheck[]> {
  const tenants = await registry.listTenants({ includeDeleted: true });
  return Promise.all(
    tenants.map(async (tenant) => ({
      ...tenant,
      // A deleted tenant's resources are gone before it is marked DELETED: no need to ask.
      runningOperation: tenant.status === 'DELETED' ? null : ((await registry.runningOperation(tenant.tenantId)) ?? null),
    })),
  );
}

/** Lists every resource whose name carries `environment`'s prefix, through the ports. */
export async function gatherInventory(ports: Omit<DriftPorts, 'config'>, environment: string): Promise<Inventory> {
  const prefixes = environmentPrefixes(environment);
  const names = async (sql: string, column: string, params: Record<string, string>) =>
    (await ports.sql.query(sql, params)).rows.map((row) => String(row[column]));

  const [databases, roles, cache, secrets, services, routes, staticAssets, appFolders] = await Promise.all([
    names(
      'SELECT datname FROM pg_database WHERE datname LIKE :pattern AND datname <> :registry ORDER BY datname',
      'datname',
      { pattern: likePrefix(prefixes.underscored), registry: registryDatabaseName(environment) },
    ),
    names('SELECT rolname FROM pg_roles WHERE rolname LIKE :pattern ORDER BY rolname', 'rolname', { pattern: likePrefix(prefixes.underscored) }),
    cacheInventory(ports.cacheUsers, prefixes.dashed),
    ports.secrets.list(prefixes.secrets),
    (async () => {
      const ours = (await ports.compute.listServices()).filter((name) => name.startsWith(prefixes.dashed));
      const described = await Promise.all(ours.map((name) => ports.compute.describeService(name)));
      return described.flatMap((service) => (service ? [{ name: service.serviceName, running: service.running, endpoint: service.endpoint }] : []));
    })(),
    ports.edge.listRoutes(),
    ports.edge.listStaticAssets(prefixes.dashed),
    ports.appFiles.listFolder(APP_FILES_ROOT),
  ]);
  return {
    databases,
    roles,
    cache: cache.availability,
    cacheUsers: cache.users,
    secrets,
    services,
    routes,
    staticAssets,
    appFolders: appFolders.filter((entry) => !entry.startsWith('.')),
  };
}

/** A LIKE pattern matching the names that start with `prefix` (its `_` and `%` taken literally). */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

interface Found {
  readonly resource: DriftResource;
  readonly name: string;
  readonly running?: boolean;
  readonly endpoint?: string;
  /** The tenant the resource itself names (a route's tenant, an app folder's name). */
  readonly namedTenant?: string;
}

const SKIPPED_STATUSES: Readonly<Partial<Record<TenantStatus, string>>> = {
  REQUESTED: 'its provision has not started yet',
  PROVISIONING: 'it is being provisioned',
  DEPROVISIONING: 'it is being deprovisioned',
};

/** Statuses whose tenant should hold nothing: anything found is left over. */
const NOTHING_EXPECTED: ReadonlySet<string> = new Set<string>(['DELETED', 'FAILED', 'DEPROVISION_FAILED']);

/**
 * The rules. ACTIVE: every expected resource exists (the cache user and its secret only when the
 * plan has a cache and a cache is available) and the compute runs, the route pointing at it.
 * DELETED, FAILED, DEPROVISION_FAILED: nothing exists (nothing half-made is left behind).
 * REQUESTED, PROVISIONING, DEPROVISIONING, or an operation running: not checked, and said so.
 * A resource of this environment whose tenant the registry does not know is reported in `unknown`.
 */
export function compareWithRegistry(
  tenants: readonly TenantToCheck[],
  inventory: Inventory,
  options: { readonly environment: string; readonly cells?: readonly string[]; readonly checkedAt?: Date },
): DriftReport {
  const { environment } = options;
  const cells = new Set([...(options.cells ?? []), ...tenants.flatMap((tenant) => (tenant.cell ? [tenant.cell] : []))]);

  // Whose is each name: first the names derived for the registry's tenants, then what the name itself says.
  const owners = new Map<string, string>();
  for (const tenant of tenants) {
    for (const names of candidateNames(tenant, environment, cells)) {
      for (const { resource, name } of namedResources(names)) owners.set(key(resource, name), tenant.tenantId);
    }
  }
  const known = new Set(tenants.map((tenant) => tenant.tenantId));
  const byTenant = new Map<string, Found[]>();
  const unknown: UnknownResource[] = [];
  for (const found of foundResources(inventory)) {
    const tenantId = found.namedTenant ?? owners.get(key(found.resource, found.name)) ?? tenantOfName(found.resource, found.name, environment);
    if (tenantId !== null && known.has(tenantId)) {
      const list = byTenant.get(tenantId) ?? [];
      list.push(found);
      byTenant.set(tenantId, list);
    } else {
      unknown.push({ kind: 'orphaned', resource: found.resource, name: found.name, detail: found.name, tenantId });
    }
  }

  const report: TenantDrift[] = tenants.map((tenant) => {
    const found = byTenant.get(tenant.tenantId) ?? [];
    const base = { tenantId: tenant.tenantId, status: tenant.status };
    const skipped = SKIPPED_STATUSES[tenant.status];
    if (skipped) return { ...base, problems: [], skipped };
    if (tenant.runningOperation) {
      return { ...base, problems: [], skipped: `a ${tenant.runningOperation.kind} operation is running (${tenant.runningOperation.operationId})` };
    }
    if (NOTHING_EXPECTED.has(tenant.status)) return { ...base, problems: sorted(found.map((f) => problem('orphaned', f.resource, f.name))) };
    if (tenant.status === 'ACTIVE') {
      if (!tenant.plan) return { ...base, problems: [], skipped: 'the registry holds no plan for it, so what it should have is not known' };
      return { ...base, problems: sorted(activeProblems(tenant.plan, found, inventory.cache.available)) };
    }
    return { ...base, problems: [], skipped: `${tenant.status} is not a status the check knows` };
  });

  return {
    environment,
    checkedAt: (options.checkedAt ?? new Date()).toISOString(),
    tenants: report,
    unknown: unknown.sort((a, b) => byTenantThenResource(a, b)),
    notes: inventory.cache.available ? [] : [`cache users not checked: ${inventory.cache.reason}`],
  };
}

function activeProblems(plan: NonNullable<TenantToCheck['plan']>, found: readonly Found[], cacheAvailable: boolean): DriftProblem[] {
  const { names } = plan;
  const cacheResources = [
    { resource: 'cache user', name: names.cacheUser },
    { resource: 'secrets', name: names.cacheSecret },
  ] as const;
  const expected = [
    ...namedResources(names).filter((r) => !cacheResources.some((c) => c.resource === r.resource && c.name === r.name)),
    ...(plan.cache.enabled && cacheAvailable ? cacheResources : []),
  ];
  // With no cache to ask, whether the cache's secret should exist cannot be told: it is neither missing nor left over.
  const undecided = plan.cache.enabled && !cacheAvailable ? cacheResources : [];
  const has = (list: readonly { resource: DriftResource; name: string }[], r: { resource: DriftResource; name: string }) =>
    list.some((item) => item.resource === r.resource && item.name === r.name);

  const problems: DriftProblem[] = [];
  for (const r of expected) if (!has(found, r)) problems.push(problem('missing', r.resource, r.name));
  for (const f of found) if (!has(expected, f) && !has(undecided, f)) problems.push(problem('orphaned', f.resource, f.name));

  const service = found.find((f) => f.resource === 'compute' && f.name === names.computeService);
  if (service && !service.running) {
    problems.push({ kind: 'status', resource: 'compute', name: service.name, detail: `${service.name} is not running` });
  }
  const route = found.find((f) => f.resource === 'route' && f.name === names.hostLabel);
  if (route && service && route.endpoint !== service.endpoint) {
    problems.push({
      kind: 'status',
      resource: 'route',
      name: route.name,
      detail: `${route.name} forwards to ${route.endpoint ?? '(nothing)'}, but ${service.name} answers at ${service.endpoint ?? '(nothing)'}`,
    });
  }
  return problems;
}

function problem(kind: DriftKind, resource: DriftResource, name: string): DriftProblem {
  return { kind, resource, name, detail: name };
}

function order(a: { resource: DriftResource; name: string }, b: { resource: DriftResource; name: string }): number {
  return DRIFT_RESOURCES.indexOf(a.resource) - DRIFT_RESOURCES.indexOf(b.resource) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** By tenant (resources of no certain tenant last), then as a report lists resources. */
function byTenantThenResource(a: UnknownResource, b: UnknownResource): number {
  if (a.tenantId !== b.tenantId) {
    if (a.tenantId === null) return 1;
    if (b.tenantId === null) return -1;
    return a.tenantId < b.tenantId ? -1 : 1;
  }
  return order(a, b);
}

const KIND_ORDER: readonly DriftKind[] = ['missing', 'status', 'orphaned'];

function sorted(problems: DriftProblem[]): DriftProblem[] {
  return problems.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || order(a, b));
}

function key(resource: DriftResource, name: string): string {
  return `${resource}\u0000${name}`;
}

/** Every resource a tenant with these names has when it is whole. */
export function namedResources(names: TenantResourceNames): { resource: DriftResource; name: string }[] {
  return [
    { resource: 'database', name: names.database },
    { resource: 'role', name: names.role },
    { resource: 'cache user', name: names.cacheUser },
    { resource: 'secrets', name: names.databaseSecret },
    { resource: 'secrets', name: names.cacheSecret },
    { resource: 'compute', name: names.computeService },
    { resource: 'route', name: names.hostLabel },
    { resource: 'static assets', name: names.assetsBucket },
    { resource: 'app files', name: names.appFilesFolder },
  ];
}

/** The names a registry tenant's resources have (its plan's), or could have (in any cell, when it has no plan). */
function candidateNames(tenant: TenantToCheck, environment: string, cells: ReadonlySet<string>): TenantResourceNames[] {
  if (tenant.plan) return [tenant.plan.names];
  const id = tenantIdSchema.safeParse(tenant.tenantId);
  if (!id.success) return [];
  return [...cells].map((cell) => tenantResourceNames({ environment, cell }, id.data));
}

function foundResources(inventory: Inventory): Found[] {
  return [
    ...inventory.databases.map((name) => ({ resource: 'database' as const, name })),
    ...inventory.roles.map((name) => ({ resource: 'role' as const, name })),
    ...inventory.cacheUsers.map((name) => ({ resource: 'cache user' as const, name })),
    ...inventory.secrets.map((name) => ({ resource: 'secrets' as const, name })),
    ...inventory.services.map(({ name, running, endpoint }) => ({ resource: 'compute' as const, name, running, endpoint })),
    ...inventory.routes.map((route) => ({ resource: 'route' as const, name: route.hostLabel, endpoint: route.endpoint, namedTenant: route.tenantId })),
    ...inventory.staticAssets.map((name) => ({ resource: 'static assets' as const, name })),
    ...inventory.appFolders.map((folder) => ({ resource: 'app files' as const, name: `${APP_FILES_ROOT}/${folder}`, namedTenant: folder })),
  ];
}

const CELL = '([a-z][a-z0-9]{0,7})';

/**
 * The tenant a resource's name was derived for, read back from the name and confirmed by deriving
 * the name again: null when the name is not one this environment gives (or was shortened with a hash).
 */
export function tenantOfName(resource: DriftResource, name: string, environment: string): string | null {
  const env = scopeSchema.shape.environment.parse(environment);
  const patterns: Partial<Record<DriftResource, [RegExp, (names: TenantResourceNames) => string[]]>> = {
    database: [new RegExp(`^hp_${env}_${CELL}_([a-z0-9_]+)$`), (n) => [n.database]],
    role: [new RegExp(`^hp_${env}_${CELL}_([a-z0-9_]+)_app$`), (n) => [n.role]],
    'cache user': [new RegExp(`^hp-${env}-${CELL}-([a-z0-9-]+)$`), (n) => [n.cacheUser]],
    secrets: [new RegExp(`^hostplane/${env}/${CELL}/([a-z0-9-]+)/(?:database|cache)$`), (n) => [n.databaseSecret, n.cacheSecret]],
    compute: [new RegExp(`^hp-${env}-${CELL}-([a-z0-9-]+)$`), (n) => [n.computeService]],
    'static assets': [new RegExp(`^hp-${env}-${CELL}-([a-z0-9-]+)-assets$`), (n) => [n.assetsBucket]],
  };
  const pattern = patterns[resource];
  const match = pattern?.[0].exec(name);
  if (!pattern || !match) return null;
  const id = tenantIdSchema.safeParse(match[2]!.replaceAll('_', '-'));
  if (!id.success) return null;
  return pattern[1](tenantResourceNames({ environment: env, cell: match[1]! }, id.data)).includes(name) ? id.data : null;
}

/**
 * The cache users of every cache of the cell (each its own user group), as one sorted list. A cache
 * that cannot be reached makes the whole inventory unavailable, named: users it holds cannot be
 * told from missing ones.
 */
async function cacheInventory(
  caches: DriftPorts['cacheUsers'],
  prefix: string,
): Promise<{ availability: { available: true } | { available: false; reason: string }; users: string[] }> {
  const users = new Set<string>();
  for (const [index, cache] of caches.entries()) {
    const availability = await cache.availability();
    if (!availability.available) {
      const which = caches.length > 1 ? `cache ${index}: ` : '';
      return { availability: { available: false, reason: `${which}${availability.reason}` }, users: [] };
    }
    for (const user of await cache.listUsers(prefix)) users.add(user);
  }
  return { availability: { available: true }, users: [...users].sort() };
}
