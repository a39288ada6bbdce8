import type { Cleanup } from './cleanup.js';
import { errorStack, errorText } from './format.js';

export interface StopHandling {
  readonly cleanup: Cleanup;
  /** Where to look for leftovers when a second signal ends the run before its cleanup is done. */
  readonly leftovers: () => string;
  /**
   * A signal this soon after the first one is the same Ctrl-C arriving again (a terminal signals
   * the whole process group, and npx and tsx relay it too), not a second one. 0: any repeat counts.
   */
  readonly sameSignalWithinMs: number;
}

/**
 * SIGINT / SIGTERM: clean up, then exit 130 / 143; a second signal exits at once (130) and says
 * what may be left. An uncaught error cleans up and exits 1, except while stopping: then broken
 * connections are expected (Ctrl-C in a terminal also reaches the embedded PostgreSQL and the
 * app processes) and only reported. Returns whether the run is stopping.
 */
export function handleStopSignals({ cleanup, leftovers, sameSignalWithinMs }: StopHandling): () => boolean {
  let stopping = false;
  let signalledAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalledAt && Date.now() - signalledAt < sameSignalWithinMs) return;
    if (stopping) {
      console.error(`${signal} again: exiting without finishing cleanup (check ${leftovers()})`);
      process.exit(130);
    }
    stopping = true;
    signalledAt = Date.now();
    console.error(`\n${signal}: stopping the benchmark`);
    void cleanup.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onUncaught = (error: unknown) => {
    if (stopping) {
      console.error(`  (while stopping: ${errorText(error)})`);
      return;
    }
    stopping = true;
    console.error(`\nUncaught error, stopping the benchmark: ${errorStack(error)}`);
    void cleanup.run().finally(() => process.exit(1));
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  return () => stopping;
}

/**
 * Runs the benchmark proper: an error ends it with exit code 1 (130 when a signal is stopping the
 * run). Then, unless a signal handler is already at it, cleans up.
 */
export async function runThenCleanUp(cleanup: Cleanup, stopping: () => boolean, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (stopping()) return 130;
    console.error(`\nBenchmark failed: ${errorStack(error)}`);
    return 1;
  } finally {
    if (!stopping()) await cleanup.runTimed();
  }
}

/** Runs a benchmark's `main` and exits with its code (130: the signal handler exits once its cleanup is done). */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      // Lingering keep-alive sockets and timers must not keep a finished benchmark alive.
      if (code !== 130) process.exit(code);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
