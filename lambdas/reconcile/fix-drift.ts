/**
 * Removes what deleted tenants, and tenants the registry does not know, left behind: exactly the
 * resources a drift report lists for them, each delete-if-present. Nothing of a tenant in any
 * other status is touched; the registry is read again first, so a tenant that came back (or an
 * operation that started) since the report was made is left alone.
 */
import { errorMessage } from '../domain/errors.js';
import { registryDatabaseName, tenantResourceNames } from '../domain/naming.js';
import { tenantIdSchema } from '../domain/tenant-id.js';
import type { TenantStatus } from '../domain/tenant-status.js';
import type { Ports } from '../ports/index.js';
import { quoteIdent } from '../ports/sql.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import {
  APP_FILES_ROOT,
  environmentPrefixes,
  namedResources,
  tenantOfName,
  type DriftReport,
  type DriftResource,
} from './find-drift.js';

export interface RemovedResource {
  readonly resource: DriftResource;
  readonly name: string;
}

export interface FailedRemoval extends RemovedResource {
  readonly error: string;
}

/** What the fix did for one tenant. */
export interface TenantFix {
  /** null: resources whose names say nothing certain about their tenant. */
  readonly tenantId: string | null;
  /** DELETED, or null when the registry does not know the tenant. */
  readonly status: TenantStatus | null;
  /** Resources that existed and were removed. */
  readonly removed: RemovedResource[];
  readonly failed: FailedRemoval[];
  /** Why nothing of the tenant was removed. */
  readonly skipped?: string;
}

export type FixPorts = Pick<Ports, 'config' | 'sql' | 'cacheUsers' | 'secrets' | 'compute' | 'edge' | 'appFiles'>;

interface Target {
  readonly tenantId: string | null;
  readonly status: TenantStatus | null;
  readonly resources: RemovedResource[];
}

/** Front to back, as a tenant is taken down: no request reaches a half-removed tenant. */
const REMOVAL_ORDER: readonly DriftResource[] = ['route', 'compute', 'static assets', 'cache user', 'secrets', 'database', 'role', 'app files'];

export async function fixDrift(report: DriftReport, ports: FixPorts, options: { readonly actor?: string } = {}): Promise<TenantFix[]> {
  const environment = ports.config.environment;
  if (report.environment !== environment) {
    throw new Error(`this drift report is of environment ${report.environment}; this control plane fixes ${environment} only`);
  }
  const targets = targetsOf(report);
  if (targets.length === 0) return [];

  const registry = new TenantRegistry(ports.sql);
  const tenants = new Map((await registry.listTenants({ includeDeleted: true })).map((tenant) => [tenant.tenantId, tenant]));
  const protectedNames = new Set<string>();
  for (const tenant of tenants.values()) {
    if (tenant.status === 'DELETED') continue;
    const id = tenantIdSchema.safeParse(tenant.tenantId);
    const names = tenant.plan?.names ?? (tenant.cell && id.success ? tenantResourceNames({ environment, cell: tenant.cell }, id.data) : undefined);
    for (const { resource, name } of names ? namedResources(names) : []) protectedNames.add(`${resource}\u0000${name}`);
  }
  const isProtected = ({ resource, name }: RemovedResource): string | undefined => {
    if (!belongsToEnvironment(resource, name, environment)) return `not a name ${environment} gives its tenants`;
    const owner = ownerOf(resource, name, environment);
    const live = owner === null ? undefined : tenants.get(owner);
    if (protectedNames.has(`${resource}\u0000${name}`) || (live && live.status !== 'DELETED')) return 'it belongs to a tenant that is not deleted';
    return undefined;
  };

  const remove = removers(ports);
  const fixes: TenantFix[] = [];
  for (const target of targets) {
    const skipped = await whyNotNow(target, tenants.get(target.tenantId ?? ''), registry);
    if (skipped) {
      fixes.push({ tenantId: target.tenantId, status: target.status, removed: [], failed: [], skipped });
      continue;
    }
    const removed: RemovedResource[] = [];
    const failed: FailedRemoval[] = [];
    for (const resource of [...target.resources].sort((a, b) => REMOVAL_ORDER.indexOf(a.resource) - REMOVAL_ORDER.indexOf(b.resource))) {
      const refused = isProtected(resource);
      if (refused) {
        failed.push({ ...resource, error: `left alone: ${refused}` });
        continue;
      }
      try {
        if (await remove[resource.resource](resource.name)) removed.push(resource);
      } catch (error) {
        failed.push({ ...resource, error: errorMessage(error) });
      }
    }
    if (removed.length > 0 || failed.length > 0) {
      await registry.audit({
        actor: options.actor ?? 'hostplane',
        action: 'tenant.drift.fixed',
        ...(target.tenantId ? { tenantId: target.tenantId } : {}),
        detail: { registryStatus: target.status ?? 'unknown to the registry', removed, failed },
      });
    }
    fixes.push({ tenantId: target.tenantId, status: target.status, removed, failed });
  }
  return fixes;
}

/** The orphans of DELETED tenants and the resources of unknown tenants, one target per tenant. */
function targetsOf(report: DriftReport): Target[] {
  const targets: Target[] = report.tenants
    .filter((tenant) => tenant.status === 'DELETED' && !tenant.skipped)
    .map((tenant) => ({
      tenantId: tenant.tenantId,
      status: tenant.status,
      resources: tenant.problems.filter((p) => p.kind === 'orphaned').map(({ resource, name }) => ({ resource, name })),
    }))
    .filter((target) => target.resources.length > 0);
  const unknown = new Map<string | null, RemovedResource[]>();
  for (const { tenantId, resource, name } of report.unknown) unknown.set(tenantId, [...(unknown.get(tenantId) ?? []), { resource, name }]);
  for (const [tenantId, resources] of unknown) targets.push({ tenantId, status: null, resources });
  return targets;
}

/** Why a target must be left alone now, judged on the registry as it is at this moment. */
async function whyNotNow(target: Target, current: { status: TenantStatus } | undefined, registry: TenantRegistry): Promise<string | undefined> {
  if (target.tenantId === null) return undefined;
  if (target.status === null) return current ? `the registry knows ${target.tenantId} now (${current.status})` : undefined;
  if (current?.status !== 'DELETED') return `${target.tenantId} is ${current?.status ?? 'no longer in the registry'} now`;
  const running = await registry.runningOperation(target.tenantId);
  return running ? `a ${running.kind} operation started on ${target.tenantId} (${running.operationId})` : undefined;
}

/** Whether `name` has the shape `environment` gives resources of this kind (and is not the registry). */
function belongsToEnvironment(resource: DriftResource, name: string, environment: string): boolean {
  const prefixes = environmentPrefixes(environment);
  switch (resource) {
    case 'database':
      return name.startsWith(prefixes.underscored) && name !== registryDatabaseName(environment) && /^[a-z0-9_]{1,63}$/.test(name);
    case 'role':
      return name.startsWith(prefixes.underscored) && /^[a-z0-9_]{1,63}$/.test(name);
    case 'cache user':
    case 'compute':
    case 'static assets':
      return name.startsWith(prefixes.dashed) && /^[a-z0-9-]{1,63}$/.test(name);
    case 'secrets':
      return name.startsWith(prefixes.secrets) && /^[a-z0-9/_-]{1,200}$/.test(name) && !name.split('/').includes('..');
    case 'route':
      return /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(name);
    case 'app files':
      return new RegExp(`^${APP_FILES_ROOT}/[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`).test(name);
  }
}

/** The tenant a resource's name points at: a route by its host label, app files by their folder, the rest by derivation. */
function ownerOf(resource: DriftResource, name: string, environment: string): string | null {
  if (resource === 'route') return name;
  if (resource === 'app files') return name.slice(APP_FILES_ROOT.length + 1);
  return tenantOfName(resource, name, environment);
}

/** One delete-if-present per kind of resource; each says whether the resource was there. */
function removers(ports: FixPorts): Readonly<Record<DriftResource, (name: string) => Promise<boolean>>> {
  const exists = async (sql: string, name: string) => (await ports.sql.query(sql, { name })).rowCount > 0;
  return {
    route: (name) => ports.edge.removeRoute(name),
    compute: (name) => ports.compute.removeService(name),
    'static assets': (name) => ports.edge.removeStaticAssets(name),
    // Through every cache in turn: the report names the user, not its cache, and each is asked (the
    // first that holds it removes it; the others find nothing).
    'cache user': async (name) => {
      let removed = false;
      for (const cache of ports.cacheUsers) removed = (await cache.deleteUser(name)) || removed;
      return removed;
    },
    secrets: (name) => ports.secrets.delete(name),
    database: async (name) => {
      const existed = await exists('SELECT 1 FROM pg_database WHERE datname = :name', name);
      await ports.sql.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      return existed;
    },
    role: async (name) => {
      const existed = await exists('SELECT 1 FROM pg_roles WHERE rolname = :name', name);
      await ports.sql.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
      return existed;
    },
    'app files': (name) => ports.appFiles.removeFolder(name),
  };
}
