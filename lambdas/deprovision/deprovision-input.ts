import type { TenantResourceNames } from '../domain/naming.js';
import type { CaughtError } from '../provision/workflow-input.js';

/** What starts a deprovision execution. */
export interface DeprovisionExecutionInput {
  readonly operationId: string;
  readonly tenantId: string;
  readonly requestedBy: string;
}

/** What MarkDeprovisioning finds: the names of everything the tenant may have (null: it was never planned, so nothing exists). */
export interface DeprovisionTarget {
  readonly tenantId: string;
  readonly names: TenantResourceNames | null;
  /** The cache its cache user lives on (its plan's). Absent (gathered before cells had several caches): cache 0. */
  readonly cache?: number;
}

/** What every removal step receives. */
export interface RemovalStepInput {
  readonly operationId: string;
  readonly tenant: DeprovisionTarget;
}

export interface DeprovisionFailureInput {
  readonly operationId: string;
  readonly tenantId: string;
  /** The Task state that failed (each Catch passes through a Pass state that names it). */
  readonly failedState?: string;
  readonly error?: CaughtError;
}
