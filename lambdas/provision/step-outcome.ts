/** What a provision step returns to the state machine. `skipped` carries the reason a step did nothing. */
export interface StepOutcome {
  readonly status: 'created' | 'updated' | 'skipped' | 'removed' | 'done';
  readonly skipped?: string;
  readonly [key: string]: unknown;
}
