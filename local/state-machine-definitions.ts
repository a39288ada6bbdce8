import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { functionOfPlaceholder, type FunctionName } from '../lambdas/functions.js';
import type { WorkflowName } from '../lambdas/ports/workflows.js';

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

export interface LoadedDefinition {
  /** The definition with every `${…FunctionArn}` replaced, as `definitionSubstitutions` would. */
  readonly definition: AslMachine;
  /** Task state name → the function it invokes. */
  readonly tasks: ReadonlyMap<string, FunctionName>;
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

/** Reads `statemachines/<workflow>.asl.json` and resolves its placeholders to local function ARNs. */
export async function loadDefinition(workflow: WorkflowName, dir = STATEMACHINES_DIR): Promise<LoadedDefinition> {
  const text = await readFile(join(dir, `${workflow}.asl.json`), 'utf8');
  const raw = JSON.parse(text) as AslMachine;
  const tasks = new Map<string, FunctionName>();
  for (const [stateName, state] of allStates(raw)) {
    if (state.Type !== 'Task') continue;
    const fn = functionOfPlaceholder(state.Resource ?? '');
    if (!fn) throw new Error(`${workflow}.asl.json: state ${stateName} names no known function (${state.Resource})`);
    if (tasks.has(stateName)) throw new Error(`${workflow}.asl.json: state name ${stateName} is used twice`);
    tasks.set(stateName, fn);
  }
  const substituted = text.replace(/\$\{([A-Za-z0-9]+)FunctionArn\}/g, (placeholder) => localFunctionArn(functionOfPlaceholder(placeholder)!));
  return { definition: JSON.parse(substituted) as AslMachine, tasks };
}
