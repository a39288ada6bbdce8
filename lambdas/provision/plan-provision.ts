import { ConflictError, PermanentError } from '../domain/errors.js';
import { parseProvisionRequest, placeCache, placeTenant, planTenant, wantsCache, type TenantPlan } from '../domain/tenant-plan.js';
import type { PlatformConfig } from '../ports/index.js';
import type { SqlPort } from '../ports/sql.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import type { ProvisionExecutionInput } from './workflow-input.js';

/**
 * The first provision step: validates the request again (the state machine may be started by
 * other callers than the API), places the tenant in a cell with room and, if it wants a cache, on
 * the cell's cache holding the fewest tenants, assembles its plan, and moves it to PROVISIONING,
 * all in one transaction. A retry keeps the cell and cache the first attempt chose.
 */
export async function planProvision(input: ProvisionExecutionInput, sql: SqlPort, config: PlatformConfig): Promise<TenantPlan> {
  const request = parseProvisionRequest(input.request);
  return TenantRegistry.inTransaction(sql, async (registry) => {
    const operation = await registry.getOperation(input.operationId);
    if (operation && operation.status !== 'RUNNING') {
      throw new ConflictError(`operation ${input.operationId} already ended (${operation.status}); a provision runs under an open operation`, {
        operationId: input.operationId,
      });
    }
    const tenant = await registry.getTenant(request.tenantId, { forUpdate: true });
    if (!tenant) throw new PermanentError(`no tenant ${request.tenantId} was requested`);
    const occupancy = await registry.countTenantsByCell();
    const cell =
      tenant.cell && config.cells.some((c) => c.cell === tenant.cell)
        ? tenant.cell
        : placeTenant(config.cells.map((c) => ({ ...c, tenants: occupancy.get(c.cell) ?? 0 })));
    const cellConfig = config.cells.find((c) => c.cell === cell);
    const planned = tenant.plan?.scope.cell === cell && tenant.plan.cache.index !== undefined ? tenant.plan.cache.index : undefined;
    const cacheIndex = !wantsCache(request)
      ? 0
      : (planned ?? placeCache(cell, await registry.countTenantsByCache(cell, cellConfig?.caches ?? 1), cellConfig?.tenantsPerCache));
    const plan = planTenant(request, config.environment, cell, cacheIndex);
    await registry.transition(request.tenantId, 'PROVISIONING', { lastError: null });
    await registry.savePlan(request.tenantId, plan);
    await registry.audit({
      actor: input.requestedBy,
      action: 'tenant.provision.planned',
      tenantId: request.tenantId,
      operationId: input.operationId,
      detail: { cell, tier: plan.tier, cache: plan.cache.index ?? null },
    });
    return plan;
  });
}
