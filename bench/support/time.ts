import { performance } from 'node:perf_hooks';

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Milliseconds since the epoch with sub-millisecond precision; a worker thread's `performance` gives the same clock. */
export const now = (): number => performance.timeOrigin + performance.now();

/** Waits for `promise`, or throws once `ms` have passed. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${Math.round(ms / 1000)} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `promise` until `deadline` (epoch ms, as {@link now}). */
export function until<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  return withDeadline(promise, Math.max(0, deadline - now()), what);
}
