import type { TenantPlan } from '../domain/tenant-plan.js';

/** The error a Catch puts in the state: Lambda's shape, with `Cause` a JSON string of errorType and errorMessage. */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

/** A Parallel branch whose Task failed answers with this instead of failing the whole state. */
export interface BranchFailure {
  readonly failed: true;
  readonly error: CaughtError;
}

/** What starts a provision execution. */
export interface ProvisionExecutionInput {
  readonly operationId: string;
  readonly request: unknown;
  readonly requestedBy: string;
}

/** What every step after planning receives. */
export interface PlannedStepInput {
  readonly operationId: string;
  readonly plan: TenantPlan;
}

/** The whole state as compensation and failure marking see it: any part may be missing. */
export interface ProvisionFailureInput {
  readonly operationId: string;
  readonly request?: unknown;
  readonly requestedBy?: string;
  readonly plan?: TenantPlan;
  readonly resources?: Readonly<Record<string, unknown>>;
  readonly error?: CaughtError;
  readonly compensation?: unknown;
  readonly compensationError?: CaughtError;
}

export function isBranchFailure(value: unknown): value is BranchFailure {
  return typeof value === 'object' && value !== null && (value as { failed?: unknown }).failed === true;
}

/** One line for a person: `CreateTenantDatabase: Hostplane.Permanent: …`. */
export function describeCaughtError(error: CaughtError): string {
  let message = error.Cause ?? '';
  try {
    const cause = JSON.parse(error.Cause ?? '') as { errorMessage?: unknown; Error?: unknown; Cause?: unknown; error?: unknown; cause?: unknown };
    if (typeof cause.errorMessage === 'string') message = cause.errorMessage;
    // A child execution that failed (startExecution.sync): its own error and cause.
    const childError = cause.Error ?? cause.error;
    const childCause = cause.Cause ?? cause.cause;
    if (typeof childError === 'string') message = typeof childCause === 'string' && childCause ? `${childError}: ${childCause}` : childError;
  } catch {
    // Not Lambda's JSON shape (a States.* error): keep the Cause as it is.
  }
  return message ? `${error.Error}: ${message}` : error.Error;
}

/** The first failure the execution met: a Task's caught error, else the first failed Parallel branch. */
export function firstFailure(input: ProvisionFailureInput): string {
  const cleanup = input.compensationError
    ? `; removing what was made also failed (${describeCaughtError(input.compensationError)})`
    : '';
  if (input.error) return describeCaughtError(input.error) + cleanup;
  for (const [step, outcome] of Object.entries(input.resources ?? {})) {
    if (isBranchFailure(outcome)) return `${step}: ${describeCaughtError(outcome.error)}${cleanup}`;
  }
  return `provision failed for an unknown reason${cleanup}`;
}
