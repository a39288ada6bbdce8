export const WORKFLOW_NAMES = ['provision', 'deploy', 'deprovision', 'backup'] as const;
export type WorkflowName = (typeof WORKFLOW_NAMES)[number];

export type WorkflowInput = Readonly<Record<string, unknown>>;

/** Starts state-machine executions (Step Functions in the cloud; the local ASL engine locally). */
export interface WorkflowsPort {
  /** Starts `workflow`; `executionName` is unique per execution (the operation id) and makes the start idempotent. */
  start(workflow: WorkflowName, executionName: string, input: WorkflowInput): Promise<{ executionId: string }>;
}

/** The Step Functions integration a state machine uses to run another and wait for it to end. */
export const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';

/** `deploy` → `DeployStateMachineArn`: the substitution an ASL file names another state machine by. */
export function stateMachineSubstitution(workflow: WorkflowName): string {
  return `${workflow[0]!.toUpperCase()}${workflow.slice(1)}StateMachineArn`;
}

/** `${DeployStateMachineArn}` → `deploy`. */
export function workflowOfPlaceholder(placeholder: string): WorkflowName | undefined {
  return WORKFLOW_NAMES.find((workflow) => placeholder === `\${${stateMachineSubstitution(workflow)}}`);
}
