import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FunctionName } from '../lambdas/functions.js';
import type { PlatformEvent } from '../lambdas/ports/events.js';
import type { InProcessEvents } from './adapters/in-process-events.js';
import { loadFunctionHandler } from './function-handlers.js';
import { invokeLikeLambda } from './lambda-invoker.js';

/** How a failed delivery is tried again: backoff doubling from `firstDelayMs` up to `maxDelayMs`, until the event is `maxEventAgeMs` old. */
export interface RetryPolicy {
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxEventAgeMs: number;
}

/** As the cloud rules' targets (lib/platform-event-rules.ts): an event is delivered for up to two hours. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { firstDelayMs: 1_000, maxDelayMs: 30_000, maxEventAgeMs: 2 * 60 * 60_000 };

export interface EventRuleOptions {
  /** The envelope's `id` (EventBridge gives each event one; handlers use it to deduplicate). @default a new UUID */
  readonly idOf?: (event: PlatformEvent) => string | undefined;
  /** What the function answered, for the log. */
  readonly onAnswer?: (answer: unknown, event: PlatformEvent) => void;
  /** A delivery that failed and will be tried again after `delayMs`, for the log. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number, event: PlatformEvent) => void;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: RetryPolicy;
  /** Aborted when the control plane stops: no more attempts (the next start's sweep closes what is left). */
  readonly signal?: AbortSignal;
  /** What a delivery runs. @default the function's handler, invoked as Lambda would */
  readonly invoke?: (envelope: Readonly<Record<string, unknown>>) => Promise<unknown>;
}

/**
 * As an EventBridge rule with a Lambda target would: every event of `source` and `detailType` on
 * the in-process bus invokes `functionName`, in EventBridge's envelope. A failed delivery (the
 * database down a moment, say) is tried again with backoff until the event is too old, as
 * EventBridge retries a target, so an event that closes an operation is handled at least once.
 */
export function routeEventsToFunction(
  events: InProcessEvents,
  source: string,
  detailType: string,
  functionName: FunctionName,
  { idOf, onAnswer, onRetry, retry = DEFAULT_RETRY_POLICY, signal, invoke }: EventRuleOptions = {},
): void {
  const deliver =
    invoke ?? (async (envelope: Readonly<Record<string, unknown>>) => invokeLikeLambda(await loadFunctionHandler(functionName), functionName, envelope));
  events.subscribe(source, detailType, async (event) => {
    const published = Date.now();
    const envelope = {
      version: '0',
      id: idOf?.(event) ?? randomUUID(),
      source: event.source,
      'detail-type': event.detailType,
      account: '000000000000',
      region: 'local',
      time: new Date(published).toISOString(),
      resources: [],
      detail: event.detail,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await deliver(envelope); // not inside `onAnswer?.(…)`: that would skip the call when there is no onAnswer
        onAnswer?.(answer, event);
        return;
      } catch (error) {
        const delayMs = Math.min(retry.maxDelayMs, retry.firstDelayMs * 2 ** (attempt - 1));
        if (signal?.aborted || Date.now() + delayMs - published > retry.maxEventAgeMs) throw error;
        onRetry?.(error, attempt, delayMs, event);
        try {
          await sleep(delayMs, undefined, { signal });
        } catch {
          throw error; // stopped while waiting: the delivery ends with its last error
        }
      }
    }
  });
}
