/**
 * Domain errors. Their `name` is what Lambda reports as `errorType`, and so what the ASL
 * Retry and Catch blocks match on: keep the names stable.
 */
export const ErrorNames = {
  validation: 'Hostplane.Validation',
  notFound: 'Hostplane.NotFound',
  conflict: 'Hostplane.Conflict',
  transient: 'Hostplane.Transient',
  permanent: 'Hostplane.Permanent',
} as const;

export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

export abstract class HostplaneError extends Error {
  abstract override readonly name: ErrorName;
}

/** Bad input. `field` names what was wrong, as a path (`tenantId`, `preferences.memoryMb`). */
export class ValidationError extends HostplaneError {
  override readonly name = ErrorNames.validation;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export class NotFoundError extends HostplaneError {
  override readonly name = ErrorNames.notFound;
}

/** The request clashes with the current state (an operation already running, a tenant that exists). */
export class ConflictError extends HostplaneError {
  override readonly name = ErrorNames.conflict;
  constructor(
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Worth retrying: the same call may succeed later (a connection refused, a throttle, a busy resource). */
export class TransientError extends HostplaneError {
  override readonly name = ErrorNames.transient;
}

/** Not worth retrying: the same call fails the same way (a limit reached, a refused name). */
export class PermanentError extends HostplaneError {
  override readonly name = ErrorNames.permanent;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
