import { z } from 'zod';
import { PermanentError } from './errors.js';
import { tenantResourceNames, type Scope, type TenantResourceNames } from './naming.js';
import { tenantIdSchema, type TenantId } from './tenant-id.js';
import { parseOrThrow } from './validation.js';

export const TIERS = ['pooled', 'dedicated'] as const;
export type Tier = (typeof TIERS)[number];

/** What a requester may ask for. Everything else is decided by the plan. */
export const provisionRequestSchema = z
  .object({
    tenantId: tenantIdSchema,
    tier: z.enum(TIERS, { error: `must be one of ${TIERS.join(', ')}` }).default('pooled'),
    // No control characters: a name is printed by the CLI and the console, and an escape sequence in it would reach the terminal.
    displayName: z
      .string()
      .trim()
      .min(1)
      .max(80)
      // Unicode's Cc, spelled so both ECMAScript and the API's (Java) model validator read it alike.
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'must not contain control characters')
      .optional(),
    preferences: z
      .object({
        memoryMb: z.number().int().min(128).max(4096).optional(),
        cache: z.boolean().optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type ProvisionRequest = z.output<typeof provisionRequestSchema>;

export function parseProvisionRequest(body: unknown): ProvisionRequest {
  return parseOrThrow(provisionRequestSchema, body);
}

interface TierDefaults {
  /** The container's hard memory limit (what `preferences.memoryMb` sets). */
  readonly memoryMb: number;
  readonly maxMemoryMb: number;
  /** What the container reserves on its instance (ECS `memoryReservation`, soft): placement packs by it. */
  readonly memoryReservationMb: number;
  /** CPU units reserved on the instance (1,024 a vCPU); a share, not a cap: idle CPU is anyone's. */
  readonly cpuUnits: number;
  readonly databaseConnectionLimit: number;
}

/**
 * A pooled tenant is mostly idle, so it reserves little and bursts up to its hard limit: 128 MiB and
 * 32 CPU units reserved let an m7g.large hold 58 of them (the cell's limits table,
 * `lib/cell-capacity.ts`), where a 512 MiB hard limit still stops one tenant from starving the rest.
 * Its database role may hold 6 connections: the old and the new release each pool 3 during a swap.
 */
export const TIER_DEFAULTS: Readonly<Record<Tier, TierDefaults>> = {
  pooled: { memoryMb: 512, maxMemoryMb: 1024, memoryReservationMb: 128, cpuUnits: 32, databaseConnectionLimit: 6 },
  dedicated: { memoryMb: 1024, maxMemoryMb: 4096, memoryReservationMb: 1024, cpuUnits: 1024, databaseConnectionLimit: 50 },
};

/** How full a cell is, as placement sees it. */
export interface CellOccupancy {
  readonly cell: string;
  readonly tenants: number;
  readonly maxTenants: number;
  /**
   * The cell's hard limits, each as the number of tenants it admits (`ElastiCache users per user group (100)`:
   * 98 when the group holds 100 users and the platform takes 2). The smallest, with `maxTenants`,
   * bounds the cell, and a refusal names it: a full cell is found before a tenant is placed, never
   * half-way through provisioning it.
   */
  readonly limits?: Readonly<Record<string, number>>;
  /**
   * The cell's caches (ElastiCache replication groups, each with its one user group; locally one
   * Redis): a tenant's cache user lives in one of them, the one its plan names. @default 1
   */
  readonly caches?: number;
  /** How many tenants' users one cache holds (98: a user group holds 100, the platform takes 2). @default no limit */
  readonly tenantsPerCache?: number;
}

/**
 * The limit that binds a cell: the smallest of `maxTenants` and its named limits. A named limit wins
 * a tie: `maxTenants` is usually the smallest limit itself (`lib/cell-capacity.ts`), and a refusal
 * should say which limit that is.
 */
export function cellCapacity(cell: CellOccupancy): { readonly tenants: number; readonly limit: string } {
  let binding = { tenants: cell.maxTenants, limit: 'maxTenants' };
  for (const [limit, tenants] of Object.entries(cell.limits ?? {})) {
    if (tenants < binding.tenants || (tenants === binding.tenants && binding.limit === 'maxTenants')) binding = { tenants, limit };
  }
  return binding;
}

/** The tenant's desired configuration: what every provision step reads, and nothing else. */
export interface TenantPlan {
  readonly tenantId: TenantId;
  readonly tier: Tier;
  readonly displayName: string;
  readonly scope: Scope;
  readonly names: TenantResourceNames;
  /** `memoryMb` is the hard limit, `memoryReservationMb` what placement reserves (plans made before it reserve `memoryMb`). */
  readonly compute: { readonly memoryMb: number; readonly memoryReservationMb?: number; readonly cpuUnits: number };
  readonly database: { readonly connectionLimit: number };
  /**
   * `index`: which of the cell's caches holds the tenant's cache user and carries its deploy
   * notices (0 to caches - 1), chosen at placement. Plans made before a cell had several caches
   * record none: read them with {@link tenantCacheIndex}, which says cache 0.
   */
  readonly cache: { readonly enabled: boolean; readonly index?: number };
}

/** The cache the tenant lives on: the one its plan records, or cache 0 for a plan made before cells had several. */
export function tenantCacheIndex(plan: Pick<TenantPlan, 'cache'>): number {
  return plan.cache.index ?? 0;
}

/**
 * Picks the cache for a new tenant's user: the one holding the fewest (the first of those on a tie),
 * so the caches fill evenly. `tenantsByCache[i]` is how many tenants cache i holds. Refuses, naming
 * the limit, when even that one is full; the cell's limits table counts every cache's users, so a
 * tenant the cell admits always finds room.
 */
export function placeCache(cell: string, tenantsByCache: readonly number[], tenantsPerCache = Number.MAX_SAFE_INTEGER): number {
  if (tenantsByCache.length === 0) throw new PermanentError(`cell ${cell} has no cache to place a tenant's cache user in`);
  let fewest = 0;
  tenantsByCache.forEach((tenants, index) => {
    if (tenants < tenantsByCache[fewest]!) fewest = index;
  });
  if (tenantsByCache[fewest]! >= tenantsPerCache) {
    throw new PermanentError(
      `no cache of cell ${cell} has room for another tenant's cache user: each of its ${tenantsByCache.length} holds ${tenantsPerCache}, ` +
        'the most a user group admits (ElastiCache users per user group, less the platform\'s 2)',
    );
  }
  return fewest;
}

/** Picks the cell: the first with room, or a clear refusal naming, for each cell, the limit that is reached. */
export function placeTenant(cells: readonly CellOccupancy[]): string {
  const free = cells.find((cell) => cell.tenants < cellCapacity(cell).tenants);
  if (!free) {
    const described = cells
      .map((c) => {
        const { tenants, limit } = cellCapacity(c);
        return limit === 'maxTenants' ? `${c.cell} holds ${c.tenants}/${tenants} tenants` : `${c.cell} holds ${c.tenants}/${tenants} tenants, the most its ${limit} limit admits`;
      })
      .join('; ');
    throw new PermanentError(`no cell has room for another tenant (${described || 'no cells configured'})`);
  }
  return free.cell;
}

/** The tenant's plan in `cell`; `cacheIndex` is the cache `placeCache` chose (a tenant that wants no cache records none). */
export function planTenant(request: ProvisionRequest, environment: string, cell: string, cacheIndex = 0): TenantPlan {
  const defaults = TIER_DEFAULTS[request.tier];
  const memoryMb = request.preferences.memoryMb ?? defaults.memoryMb;
  if (memoryMb > defaults.maxMemoryMb) {
    throw new PermanentError(
      `preferences.memoryMb: ${memoryMb} is more than the ${request.tier} tier allows (${defaults.maxMemoryMb})`,
    );
  }
  const scope = { environment, cell };
  return {
    tenantId: request.tenantId,
    tier: request.tier,
    displayName: request.displayName ?? request.tenantId,
    scope,
    names: tenantResourceNames(scope, request.tenantId),
    compute: { memoryMb, memoryReservationMb: Math.min(defaults.memoryReservationMb, memoryMb), cpuUnits: defaults.cpuUnits },
    database: { connectionLimit: defaults.databaseConnectionLimit },
    cache: wantsCache(request) ? { enabled: true, index: cacheIndex } : { enabled: false },
  };
}

/** Whether the tenant asked for a cache (the default). */
export function wantsCache(request: ProvisionRequest): boolean {
  return request.preferences.cache ?? true;
}
