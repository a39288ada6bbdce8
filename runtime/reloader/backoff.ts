/** Exponential backoff for restarting a crashed app. */
import type { BackoffConfig } from './config.js';

/** The delay before restart number `attempt` (1 for the first restart after a crash). */
export function backoffDelayMs(policy: Pick<BackoffConfig, 'initialMs' | 'maxMs'>, attempt: number): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
}
