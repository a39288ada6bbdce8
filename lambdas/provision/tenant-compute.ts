import type { TenantPlan } from '../domain/tenant-plan.js';
import type { ComputeSpec } from '../ports/compute.js';

/** The compute a tenant's plan asks for. */
export function computeSpecFor(plan: TenantPlan): ComputeSpec {
  return {
    serviceName: plan.names.computeService,
    tenantId: plan.tenantId,
    displayName: plan.displayName,
    memoryMb: plan.compute.memoryMb,
    cpuUnits: plan.compute.cpuUnits,
    appFilesFolder: plan.names.appFilesFolder,
    secretNames: [plan.names.databaseSecret, ...(plan.cache.enabled ? [plan.names.cacheSecret] : [])],
  };
}
