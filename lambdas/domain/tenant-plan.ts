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
    displayName: z.string().trim().min(1).max(80).optional(),
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
  readonly memoryMb: number;
  readonly maxMemoryMb: number;
  readonly cpuUnits: number;
  readonly databaseConnectionLimit: number;
}

const TIER_DEFAULTS: Readonly<Record<Tier, TierDefaults>> = {
  pooled: { memoryMb: 256, maxMemoryMb: 1024, cpuUnits: 256, databaseConnectionLimit: 10 },
  dedicated: { memoryMb: 1024, maxMemoryMb: 4096, cpuUnits: 1024, databaseConnectionLimit: 50 },
};

/** How full a cell is, as placement sees it. */
export interface CellOccupancy {
  readonly cell: string;
  readonly tenants: number;
  readonly maxTenants: number;
  /**
   * The cell's hard limits, each as the number of tenants it admits (`cache users per user group`:
   * 98 when the group holds 100 users and the platform takes 2). The smallest, with `maxTenants`,
   * bounds the cell, and a refusal names it: a full cell is found before a tenant is placed, never
   * half-way through provisioning it.
   */
  readonly limits?: Readonly<Record<string, number>>;
}

/** The limit that binds a cell: the smallest of `maxTenants` and its named limits. */
export function cellCapacity(cell: CellOccupancy): { readonly tenants: number; readonly limit: string } {
  let binding = { tenants: cell.maxTenants, limit: 'maxTenants' };
  for (const [limit, tenants] of Object.entries(cell.limits ?? {})) {
    if (tenants < binding.tenants) binding = { tenants, limit };
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
  readonly compute: { readonly memoryMb: number; readonly cpuUnits: number };
  readonly database: { readonly connectionLimit: number };
  readonly cache: { readonly enabled: boolean };
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

export function planTenant(request: ProvisionRequest, environment: string, cell: string): TenantPlan {
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
    compute: { memoryMb, cpuUnits: defaults.cpuUnits },
    database: { connectionLimit: defaults.databaseConnectionLimit },
    cache: { enabled: request.preferences.cache ?? true },
  };
}
