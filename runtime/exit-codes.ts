/** Exit codes of the runtime's processes (the reloader, and the apps it runs), for a supervisor to act on. */
export const RuntimeExitCode = {
  drained: 0,
  failed: 1,
  badConfig: 2,
  /** The address cannot be bound (taken, or not allowed): a supervisor may retry on another port. */
  addressUnavailable: 3,
} as const;
