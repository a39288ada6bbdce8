import type { TenantPlan, Tier } from '../domain/tenant-plan.js';
import type { TenantStatus } from '../domain/tenant-status.js';
import type { WorkflowName } from '../ports/workflows.js';

export interface TenantRecord {
  readonly tenantId: string;
  readonly displayName: string;
  readonly tier: Tier;
  readonly cell: string | null;
  readonly status: TenantStatus;
  readonly url: string | null;
  readonly version: string | null;
  readonly plan: TenantPlan | null;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What an operation is: a run of one of the state machines (the backup machine runs `restore` and `export` too). */
export type OperationKind = WorkflowName | 'restore' | 'export';
export type OperationStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';
export type StepStatus = 'RUNNING' | 'SUCCEEDED' | 'SKIPPED' | 'FAILED';

export interface StepRecord {
  readonly stepId: number;
  readonly state: string;
  readonly status: StepStatus;
  readonly detail: string | null;
  readonly error: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
}

export interface OperationRecord {
  readonly operationId: string;
  readonly tenantId: string;
  readonly kind: OperationKind;
  readonly status: OperationStatus;
  readonly input: unknown;
  readonly currentState: string | null;
  readonly error: string | null;
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  readonly requestedBy: string;
  readonly executionId: string | null;
  /** What it gave once SUCCEEDED (a backup's id, an export's key…); null before, or when it gives nothing. */
  readonly result: unknown;
  readonly startedAt: string;
  readonly endedAt: string | null;
}

export interface AuditEvent {
  readonly actor: string;
  readonly action: string;
  readonly tenantId?: string;
  readonly operationId?: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditRecord extends Required<Omit<AuditEvent, 'tenantId' | 'operationId'>> {
  readonly eventId: number;
  readonly at: string;
  readonly tenantId: string | null;
  readonly operationId: string | null;
}
