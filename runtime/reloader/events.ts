/** What the reloader reports as it works (for logs, tests and benchmarks). */
export type ReloaderEvent =
  /** A process became healthy with nothing else serving (first start, or restart after a crash). */
  | { readonly type: 'started'; readonly releaseId: string; readonly pid: number | undefined; readonly healthMs: number; readonly restart: boolean }
  /** A new release took over; `ms` runs from the moment the new pointer was seen until the new process was healthy. */
  | {
      readonly type: 'swapped';
      readonly from: string;
      readonly to: string;
      readonly pid: number | undefined;
      readonly ms: number;
      readonly healthMs: number;
    }
  /** A release did not become healthy; it was stopped and whatever served before keeps serving. */
  | { readonly type: 'release-failed'; readonly releaseId: string; readonly reason: string }
  /** `current` names no usable release. */
  | { readonly type: 'pointer-invalid'; readonly raw: string; readonly reason: string }
  /** The serving process exited without being asked to. */
  | { readonly type: 'crashed'; readonly releaseId: string; readonly pid: number | undefined; readonly reason: string; readonly restartInMs: number }
  /** A process told to stop has exited; `clean` when it drained and exited 0 before the deadline. */
  | { readonly type: 'stopped'; readonly releaseId: string; readonly pid: number | undefined; readonly ms: number; readonly clean: boolean; readonly reason: string };

export interface ReloaderHooks {
  /** One line per call; default: stderr with a `reloader:` prefix. */
  readonly log?: (line: string) => void;
  readonly onEvent?: (event: ReloaderEvent) => void;
  /**
   * Subscribes an extra trigger that polls `current` at once (the tenant's cache channel
   * `t:<tenant>:deploy`); returns an unsubscribe function.
   */
  readonly wakeOn?: (wake: () => void) => (() => void) | void;
  /** The environment passed on to app processes (default: the reloader's own). */
  readonly env?: NodeJS.ProcessEnv;
}
