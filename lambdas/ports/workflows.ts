export const WORKFLOW_NAMES = ['provision', 'deploy', 'deprovision'] as const;
export type WorkflowName = (typeof WORKFLOW_NAMES)[number];

export type WorkflowInput = Readonly<Record<string, unknown>>;

/** Starts state-machine executions (Step Functions in the cloud; the local ASL engine locally). */
export interface WorkflowsPort {
  /** Starts `workflow`; `executionName` is unique per execution (the operation id) and makes the start idempotent. */
  start(workflow: WorkflowName, executionName: string, input: WorkflowInput): Promise<{ executionId: string }>;
}
