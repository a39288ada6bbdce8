import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { functionOfPlaceholder, type FunctionName } from '../lambdas/functions.js';
import { CELL_SUBSTITUTIONS, ECS_RUN_TASK_SYNC, jobOfPlaceholder, type JobName } from '../lambdas/jobs.js';
import { START_EXECUTION_SYNC, WORKFLOW_NAMES, stateMachineSubstitution, type WorkflowName } from '../lambdas/ports/workflows.js';

export const STATEMACHINES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'statemachines');

interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: { readonly TaskDefinition?: unknown };
  readonly Branches?: readonly AslMachine[];
  readonly Iterator?: AslMachine;
  readonly ItemProcessor?: AslMachine;
}

export interface AslMachine {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
}

/** What a Task state runs: one of our functions, another state machine (startExecution.sync) or a job (ecs:runTask.sync), waited for. */
export type TaskTarget =
  | { readonly kind: 'function'; readonly name: FunctionName }
  | { readonly kind: 'startExecution' }
  | { readonly kind: 'job'; readonly name: JobName };

export interface LoadedDefinition {
  /** The definition with every `${…FunctionArn}` and `${…StateMachineArn}` replaced, as `definitionSubstitutions` would. */
  readonly definition: AslMachine;
  /** Task state name → what it runs. */
  readonly tasks: ReadonlyMap<string, TaskTarget>;
}

/** Every state of a machine, nested ones (Parallel branches, Map iterators) included. */
export function allStates(machine: AslMachine): [string, AslState][] {
  return Object.entries(machine.States).flatMap(([name, state]) => [
    [name, state] as [string, AslState],
    ...[...(state.Branches ?? []), ...(state.Iterator ? [state.Iterator] : []), ...(state.ItemProcessor ? [state.ItemProcessor] : [])].flatMap(
      allStates,
    ),
  ]);
}

export function localFunctionArn(name: FunctionName): string {
  return `arn:aws:lambda:us-east-1:000000000000:function:hostplane-local-${name}`;
}

export function localTaskDefinitionArn(name: JobName): string {
  return `arn:aws:ecs:us-east-1:000000000000:task-definition/hostplane-local-${name}:1`;
}

/** The cell's cluster and capacity provider, as the local engine names them. */
const LOCAL_CELL_VALUES: Readonly<Record<(typeof CELL_SUBSTITUTIONS)[number], string>> = {
  CellClusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/hostplane-local',
  CellCapacityProviderName: 'hostplane-local',
};

export function localStateMachineArn(workflow: WorkflowName): string {
  return `arn:aws:states:us-east-1:000000000000:stateMachine:hostplane-local-${workflow}`;
}

/** The workflow a local state machine ARN names. */
export function workflowOfLocalArn(arn: unknown): WorkflowName | undefined {
  return WORKFLOW_NAMES.find((workflow) => arn === localStateMachineArn(workflow));
}

/** Reads `statemachines/<workflow>.asl.json` and resolves its placeholders to local function ARNs. */
export async function loadDefinition(workflow: WorkflowName, dir = STATEMACHINES_DIR): Promise<LoadedDefinition> {
  const text = await readFile(join(dir, `${workflow}.asl.json`), 'utf8');
  const raw = JSON.parse(text) as AslMachine;
  const tasks = new Map<string, TaskTarget>();
  for (const [stateName, state] of allStates(raw)) {
    if (state.Type !== 'Task') continue;
    if (tasks.has(stateName)) throw new Error(`${workflow}.asl.json: state name ${stateName} is used twice`);
    if (state.Resource === START_EXECUTION_SYNC) {
      tasks.set(stateName, { kind: 'startExecution' });
      continue;
    }
    if (state.Resource === ECS_RUN_TASK_SYNC) {
      const job = jobOfPlaceholder(String(state.Parameters?.TaskDefinition));
      if (!job) throw new Error(`${workflow}.asl.json: state ${stateName} runs no known job (${String(state.Parameters?.TaskDefinition)})`);
      tasks.set(stateName, { kind: 'job', name: job });
      continue;
    }
    const fn = functionOfPlaceholder(state.Resource ?? '');
    if (!fn) throw new Error(`${workflow}.asl.json: state ${stateName} names no known function (${state.Resource})`);
    tasks.set(stateName, { kind: 'function', name: fn });
  }
  let substituted = text.replace(/\$\{([A-Za-z0-9]+)FunctionArn\}/g, (placeholder) => localFunctionArn(functionOfPlaceholder(placeholder)!));
  for (const name of WORKFLOW_NAMES) substituted = substituted.replaceAll(`\${${stateMachineSubstitution(name)}}`, localStateMachineArn(name));
  substituted = substituted.replace(/\$\{([A-Za-z0-9]+)TaskDefinitionArn\}/g, (placeholder) => localTaskDefinitionArn(jobOfPlaceholder(placeholder)!));
  for (const name of CELL_SUBSTITUTIONS) substituted = substituted.replaceAll(`\${${name}}`, LOCAL_CELL_VALUES[name]);
  return { definition: JSON.parse(substituted) as AslMachine, tasks };
}
