import { PermanentError, TransientError, errorMessage } from '../../lambdas/domain/errors.js';

/** What an AWS SDK v3 client throws: a `ServiceException` with a name, metadata and a retry hint. */
interface AwsSdkError {
  readonly name: string;
  readonly message: string;
  readonly $retryable?: { readonly throttling?: boolean };
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $fault?: 'client' | 'server';
}

/** The error as an SDK error, when an AWS SDK client threw it (it carries `$metadata` or `$fault`). */
function asAwsSdkError(error: unknown): AwsSdkError | undefined {
  return error instanceof Error && ('$metadata' in error || '$fault' in error) ? (error as AwsSdkError) : undefined;
}

/** Error names AWS services use for "slow down" or "busy, try again", across the services we call. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalServerError',
  'InternalServiceError',
  'InternalServiceErrorException',
  'InternalErrorException',
  'PriorRequestNotComplete',
  'ConcurrentModificationException',
  'OperationAbortedException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNRESET',
  'ETIMEDOUT',
]);

/** The error's name, when it is one an AWS SDK client threw (else undefined). */
export function awsErrorName(error: unknown): string | undefined {
  if (asAwsSdkError(error)) return (error as Error).name;
  return error instanceof Error && TRANSIENT_NAMES.has(error.name) ? error.name : undefined;
}

/** Whether `error` is the AWS error named `name` (or one of `names`): the way adapters recognise "already exists" and "not found". */
export function isAwsError(error: unknown, ...names: string[]): boolean {
  const name = awsErrorName(error);
  return name !== undefined && names.includes(name);
}

/** Whether the same call may succeed later: throttling, a 5xx, a busy resource, a dropped connection. */
export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (TRANSIENT_NAMES.has(error.name)) return true;
  const sdk = asAwsSdkError(error);
  if (!sdk) return false;
  if (sdk.$retryable) return true;
  const status = sdk.$metadata?.httpStatusCode;
  return sdk.$fault === 'server' || (status !== undefined && (status >= 500 || status === 429));
}

/**
 * Turns what an AWS call threw into the domain's errors, whose names the ASL Retry and Catch blocks
 * match: throttling and server faults become `Hostplane.Transient` (retried with backoff), any other
 * AWS error `Hostplane.Permanent` (caught, compensated). `doing` says what was attempted, so the
 * registry's step error reads "creating ECS service hp-dev-c1-acme: AccessDeniedException: …".
 * Errors that are not AWS's (ours, a bug) pass through unchanged.
 */
export function toDomainError(error: unknown, doing: string): Error {
  if (!(error instanceof Error)) return new PermanentError(`${doing}: ${String(error)}`);
  if (!asAwsSdkError(error) && !TRANSIENT_NAMES.has(error.name)) return error;
  const message = `${doing}: ${error.name}: ${errorMessage(error)}`;
  return isTransientAwsError(error) ? new TransientError(message) : new PermanentError(message);
}

/** Runs one AWS call; whatever it throws comes back as a domain error (see {@link toDomainError}). */
export async function callAws<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toDomainError(error, doing);
  }
}
