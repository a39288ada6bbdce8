import type { operationView } from '../../lambdas/api/views.js';
import type { ApiClient } from './api-client.js';
import { duration } from './format.js';

export type OperationView = ReturnType<typeof operationView> & {
  states?: { state: string; status: string; detail: string | null; error: string | null; startedAt: string; endedAt: string | null }[];
};

const MARKS: Record<string, string> = { SUCCEEDED: '✓', SKIPPED: '–', FAILED: '✗', RUNNING: '…' };

/**
 * Polls an operation and prints each state as it runs and ends, until the operation ends.
 * Returns the final operation.
 */
export async function followOperation(
  client: ApiClient,
  operationId: string,
  print: (line: string) => void,
  { intervalMs = 200, timeoutMs = 15 * 60_000 } = {},
): Promise<OperationView> {
  const shown = new Map<number, string>();
  const deadline = Date.now() + timeoutMs;
  let settleDeadline: number | undefined;
  for (;;) {
    const { body: operation } = await client.expect<OperationView>('GET', `/operations/${operationId}`);
    (operation.states ?? []).forEach((step, i) => {
      if (shown.get(i) === step.status) return;
      if (step.status === 'RUNNING') {
        print(`  … ${step.state}`);
      } else {
        const note = step.status === 'SKIPPED' ? ` skipped: ${step.detail ?? ''}` : step.error ? `  ${step.error}` : '';
        print(`  ${MARKS[step.status] ?? '?'} ${step.state} (${duration(step.startedAt, step.endedAt)})${note}`);
      }
      shown.set(i, step.status);
    });
    // The last step closes the operation a moment before its own step is recorded as ended: wait
    // briefly for that record so the last state is shown with its outcome.
    const settling = operation.status !== 'RUNNING' && (operation.states ?? []).some((step) => step.status === 'RUNNING');
    if (operation.status !== 'RUNNING' && (!settling || Date.now() > (settleDeadline ??= Date.now() + 2_000))) return operation;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still running after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
