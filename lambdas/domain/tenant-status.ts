import { ConflictError } from './errors.js';

export const TENANT_STATUSES = [
  'REQUESTED',
  'PROVISIONING',
  'ACTIVE',
  'FAILED',
  'DEPROVISIONING',
  'DEPROVISION_FAILED',
  'DELETED',
] as const;

export type TenantStatus = (typeof TENANT_STATUSES)[number];

/**
 * The one place that says which status may follow which. The registry applies a transition
 * with `UPDATE … WHERE status IN (allowed sources)`, so the check and the write are one step.
 */
const ALLOWED_TRANSITIONS: Readonly<Record<TenantStatus, readonly TenantStatus[]>> = {
  REQUESTED: ['PROVISIONING', 'FAILED'],
  PROVISIONING: ['ACTIVE', 'FAILED'],
  ACTIVE: ['PROVISIONING', 'DEPROVISIONING'],
  FAILED: ['PROVISIONING', 'DEPROVISIONING'],
  DEPROVISIONING: ['DELETED', 'DEPROVISION_FAILED'],
  // Running deprovision again finishes the job.
  DEPROVISION_FAILED: ['DEPROVISIONING'],
  DELETED: ['REQUESTED'],
};

export function canTransition(from: TenantStatus, to: TenantStatus): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/** The statuses from which `to` may be reached. */
export function sourcesOf(to: TenantStatus): TenantStatus[] {
  return TENANT_STATUSES.filter((from) => canTransition(from, to));
}

export function assertTransition(tenantId: string, from: TenantStatus, to: TenantStatus): void {
  if (!canTransition(from, to)) {
    throw new ConflictError(`tenant ${tenantId} is ${from} and cannot become ${to}`, {
      tenantId,
      status: from,
    });
  }
}
