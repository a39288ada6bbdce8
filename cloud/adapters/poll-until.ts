import { TransientError } from '../../lambdas/domain/errors.js';

/** How an adapter waits for AWS to reach a state: injectable sleep and clock, so tests never wait. */
export interface PollSettings {
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** Past this long, the wait gives up with a TransientError (the state machine's Retry tries the idempotent step again). */
  readonly timeoutMs: number;
  /** @default 1_000, doubling on each attempt */
  readonly initialDelayMs?: number;
  /** @default 15_000 */
  readonly maxDelayMs?: number;
}

/**
 * Calls `check` until it returns a value (not undefined), sleeping with exponential backoff in
 * between. `what` names the awaited state in the timeout's message.
 */
export async function pollUntil<T>(what: string, check: () => Promise<T | undefined>, settings: PollSettings): Promise<T> {
  const deadline = settings.now() + settings.timeoutMs;
  let delay = settings.initialDelayMs ?? 1_000;
  const maxDelay = settings.maxDelayMs ?? 15_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    const left = deadline - settings.now();
    if (left <= 0) throw new TransientError(`timed out after ${settings.timeoutMs} ms waiting for ${what}`);
    await settings.sleep(Math.min(delay, left));
    delay = Math.min(delay * 2, maxDelay);
  }
}

/** The real sleep, for production use. */
export const realSleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
