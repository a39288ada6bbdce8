import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { functionOfPlaceholder, type FunctionName } from '../lambdas/functions.js';
import { START_EXECUTION_SYNC, WORKFLOW_NAMES, stateMachineSubstitution, type WorkflowName } from '../lambdas/ports/workflows.js';

export const STATEMACHINES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'statemachines');

interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Branches?: readonly AslMachine[];
  readonly Iterator?: AslMachine;
  readonly ItemProcessor?: AslMachine;
}

export interface AslMachine {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
}

/** What a Task state runs: one of our functions, or another state machine (startExecution.sync), waited for. */
export type TaskTarget = { readonly kind: 'function'; readonly name: FunctionName } | { readonly kind: 'startExecution' };

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
    const fn = functionOfPlaceholder(state.Resource ?? '');
    if (!fn) throw new Error(`${workflow}.asl.json: state ${stateName} names no known function (${state.Resource})`);
    tasks.set(stateName, { kind: 'function', name: fn });
  }
  let substituted = text.replace(/\$\{([A-Za-z0-9]+)FunctionArn\}/g, (placeholder) => localFunctionArn(functionOfPlaceholder(placeholder)!));
  for (const name of WORKFLOW_NAMES) substituted = substituted.replaceAll(`\${${stateMachineSubstitution(name)}}`, localStateMachineArn(name));
  return { definition: JSON.parse(substituted) as AslMachine, tasks };
}
