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

/** Picks the cell: the first with room, or a clear refusal naming the limit. */
export function placeTenant(cells: readonly CellOccupancy[]): string {
  const free = cells.find((cell) => cell.tenants < cell.maxTenants);
  if (!free) {
    const described = cells.map((c) => `${c.cell} holds ${c.tenants}/${c.maxTenants} tenants`).join('; ');
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
