import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it, expect } from '@jest/globals';
import { functionOfPlaceholder } from '../../lambdas/functions.js';
import { ECS_RUN_TASK_SYNC, JOB_CONTAINER, jobOfPlaceholder } from '../../lambdas/jobs.js';
import { START_EXECUTION_SYNC, workflowOfPlaceholder } from '../../lambdas/ports/workflows.js';
import { allStates, STATEMACHINES_DIR } from '../../local/state-machine-definitions.js';
import type { AslMachine } from '../../local/state-machine-definitions.js';

/** asl-validator ships JavaScript only (CommonJS, `module.exports = validator`); this is the part we call. */
type AslValidator = (definition: unknown) => { readonly isValid: boolean; readonly errorsText: (separator?: string) => string };
const validateAsl = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** A choice rule or a catcher: what may send the machine elsewhere. */
interface Transition {
  readonly Next?: string;
}

interface State {
  readonly Type: string;
  readonly Next?: string;
  readonly Default?: string;
  readonly Choices?: readonly Transition[];
  readonly Catch?: readonly Transition[];
  readonly Retry?: readonly unknown[];
  readonly Resource?: string;
  readonly Parameters?: { readonly StateMachineArn?: unknown };
  readonly TimeoutSeconds?: number;
  readonly Branches?: readonly Machine[];
  readonly Iterator?: Machine;
  readonly ItemProcessor?: Machine;
}

interface Machine {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, State>>;
}

/**
 * Task states allowed to have no Catch, as `<file>:<state>` → why. A terminal handler (the last
 * word of a failure path) may let its own failure end the execution; say so here, not by accident.
 */
const TERMINAL_HANDLERS: ReadonlyMap<string, string> = new Map();

/** The machine and every machine nested in it (Parallel branches, Map processors). */
function machinesOf(machine: Machine): Machine[] {
  return [
    machine,
    ...Object.values(machine.States).flatMap((state) =>
      [...(state.Branches ?? []), ...(state.Iterator ? [state.Iterator] : []), ...(state.ItemProcessor ? [state.ItemProcessor] : [])].flatMap(
        machinesOf,
      ),
    ),
  ];
}

function statesOf(machine: Machine): [string, State][] {
  return machinesOf(machine).flatMap((m) => Object.entries(m.States));
}

/** What `definitionSubstitutions` would do in the cloud, with made-up function and state machine ARNs. */
function withFakeFunctionArns(text: string): unknown {
  return JSON.parse(
    text
      .replace(/\$\{([A-Za-z0-9]+)FunctionArn\}/g, (_placeholder, name: string) => `arn:aws:lambda:us-east-1:123456789012:function:hostplane-test-${name}`)
      .replace(/\$\{([A-Za-z0-9]+)StateMachineArn\}/g, (_placeholder, name: string) => `arn:aws:states:us-east-1:123456789012:stateMachine:hostplane-test-${name}`)
      .replace(/\$\{([A-Za-z0-9]+)TaskDefinitionArn\}/g, (_placeholder, name: string) => `arn:aws:ecs:us-east-1:123456789012:task-definition/hostplane-test-${name}:1`)
      .replace('${CellClusterArn}', 'arn:aws:ecs:us-east-1:123456789012:cluster/hostplane-test')
      .replace('${CellCapacityProviderName}', 'hostplane-test'),
  );
}

/** A Task that runs one of our jobs (`lambdas/jobs.ts`) as an ECS task on the cell's cluster, with its input in the job container's environment. */
function runsOurJob(state: State): boolean {
  const parameters = state.Parameters as
    | { TaskDefinition?: unknown; Cluster?: unknown; Overrides?: { ContainerOverrides?: { Name?: unknown }[] } }
    | undefined;
  return (
    state.Resource === ECS_RUN_TASK_SYNC &&
    jobOfPlaceholder(String(parameters?.TaskDefinition)) !== undefined &&
    parameters?.Cluster === '${CellClusterArn}' &&
    parameters?.Overrides?.ContainerOverrides?.[0]?.Name === JOB_CONTAINER
  );
}

/** A Task that runs another of our state machines to completion, named by its `${<Workflow>StateMachineArn}`. */
function runsOurStateMachine(state: State): boolean {
  return state.Resource === START_EXECUTION_SYNC && workflowOfPlaceholder(String(state.Parameters?.StateMachineArn)) !== undefined;
}

const files = readdirSync(STATEMACHINES_DIR)
  .filter((file) => file.endsWith('.asl.json'))
  .sort();

describe('statemachines/', () => {
  it('holds the provision, deploy, deprovision and backup state machines', () => {
    expect(files).toEqual(expect.arrayContaining(['provision.asl.json', 'deploy.asl.json', 'deprovision.asl.json', 'backup.asl.json']));
  });
});

describe.each(files)('statemachines/%s', (file) => {
  const text = readFileSync(join(STATEMACHINES_DIR, file), 'utf8');
  const definition = JSON.parse(text) as Machine;

  it('is valid Amazon States Language per asl-validator, once its placeholders are substituted', () => {
    const result = validateAsl(withFakeFunctionArns(text));

    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('sends every transition to a state of the same (sub)machine', () => {
    const dangling = machinesOf(definition).flatMap((machine) => {
      const names = new Set(Object.keys(machine.States));
      const targets: [string, string | undefined][] = [
        ['StartAt', machine.StartAt],
        ...Object.entries(machine.States).flatMap(([name, state]): [string, string | undefined][] => [
          ...(state.Next === undefined ? [] : [[`${name}.Next`, state.Next] as [string, string]]),
          ...(state.Default === undefined ? [] : [[`${name}.Default`, state.Default] as [string, string]]),
          ...(state.Choices ?? []).map((rule, i): [string, string | undefined] => [`${name}.Choices[${i}].Next`, rule.Next]),
          ...(state.Catch ?? []).map((catcher, i): [string, string | undefined] => [`${name}.Catch[${i}].Next`, catcher.Next]),
        ]),
      ];
      return targets.filter(([, target]) => target === undefined || !names.has(target)).map(([where, target]) => `${where} → ${String(target)}`);
    });

    expect(dangling).toEqual([]);
  });

  it('names every state once in the whole file (the local engine overrides Tasks by name)', () => {
    const names = allStates(definition as AslMachine).map(([name]) => name);
    const repeated = names.filter((name, i) => names.indexOf(name) !== i);

    expect(repeated).toEqual([]);
  });

  it('gives every Task a TimeoutSeconds, a Retry and a Catch', () => {
    const lacking = statesOf(definition)
      .filter(([, state]) => state.Type === 'Task')
      .flatMap(([name, state]) => [
        ...(typeof state.TimeoutSeconds === 'number' ? [] : [`${name}: no TimeoutSeconds`]),
        ...((state.Retry ?? []).length > 0 ? [] : [`${name}: no Retry`]),
        ...((state.Catch ?? []).length > 0 || TERMINAL_HANDLERS.has(`${file}:${name}`) ? [] : [`${name}: no Catch`]),
      ]);

    expect(lacking).toEqual([]);
  });

  it('invokes only functions of FUNCTIONS through their ${<Name>FunctionArn}, runs one of our state machines, or one of our jobs on the cell', () => {
    const unknown = statesOf(definition)
      .filter(
        ([, state]) => state.Type === 'Task' && functionOfPlaceholder(state.Resource ?? '') === undefined && !runsOurStateMachine(state) && !runsOurJob(state),
      )
      .map(([name, state]) => `${name}: ${String(state.Resource)}`);

    expect(unknown).toEqual([]);
  });

  it('uses JSONPath only: no QueryLanguage and no Assign, which the local engine ignores', () => {
    const machineLevel = Object.hasOwn(definition, 'QueryLanguage') ? ['QueryLanguage at the top'] : [];
    const stateLevel = statesOf(definition).flatMap(([name, state]) =>
      [
        ['', state],
        ...(state.Choices ?? []).map((rule, i) => [`.Choices[${i}]`, rule] as const),
        ...(state.Catch ?? []).map((catcher, i) => [`.Catch[${i}]`, catcher] as const),
      ].flatMap(([where, part]) => ['QueryLanguage', 'Assign'].filter((field) => Object.hasOwn(part as object, field)).map((field) => `${name}${String(where)}: ${field}`)),
    );

    expect([...machineLevel, ...stateLevel]).toEqual([]);
  });
});
