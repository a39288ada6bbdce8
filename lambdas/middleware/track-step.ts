import type { MiddlewareObj, Request } from '@middy/core';
import { errorMessage } from '../domain/errors.js';
import { ports } from '../ports/index.js';
import { TenantRegistry } from '../registry/tenant-registry.js';

interface StepEvent {
  readonly operationId?: unknown;
}

interface TrackedInternal {
  stepId?: number;
}

/**
 * Records a state-machine step in the tenant registry: started, then succeeded, skipped (the
 * handler's result says `skipped: reason`) or failed. The operation's current state follows.
 * The same in both worlds: the console reads "states passed so far" from the registry.
 * A failure to record never hides the step's own result or error.
 */
export function trackStep(state: string): MiddlewareObj<StepEvent, unknown> {
  const registry = () => new TenantRegistry(ports().sql);
  const internal = (request: Request<StepEvent>) => request.internal as TrackedInternal;

  return {
    before: async (request) => {
      const { operationId } = request.event;
      if (typeof operationId !== 'string') return;
      internal(request).stepId = await registry()
        .stepStarted(operationId, state)
        .catch(() => undefined);
    },
    after: async (request) => {
      const stepId = internal(request).stepId;
      if (stepId === undefined) return;
      const skipped = (request.response as { skipped?: unknown } | null)?.skipped;
      await registry()
        .stepFinished(stepId, typeof skipped === 'string' ? 'SKIPPED' : 'SUCCEEDED', {
          detail: typeof skipped === 'string' ? skipped : undefined,
        })
        .catch(() => undefined);
    },
    onError: async (request) => {
      const stepId = internal(request).stepId;
      if (stepId === undefined) return;
      const error = request.error;
      await registry()
        .stepFinished(stepId, 'FAILED', { error: error ? `${error.name}: ${errorMessage(error)}` : 'unknown error' })
        .catch(() => undefined);
    },
  };
}
