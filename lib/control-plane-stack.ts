import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { scopeSchema } from '../lambdas/domain/naming.js';
import { FUNCTIONS, functionOfPlaceholder } from '../lambdas/functions.js';
import type { FunctionName } from '../lambdas/functions.js';
import { HostplaneFunction, REPOSITORY_ROOT } from './hostplane-function.js';

export const STATEMACHINES_DIR = join(REPOSITORY_ROOT, 'statemachines');

export interface ControlPlaneStackProps extends StackProps {
  /** The environment this copy of the control plane serves (dev, prod, a test run); the rule of `scopeSchema`. */
  readonly environment: string;
}

/** The state machines built so far, by workflow. */
export interface ControlPlaneStateMachines {
  readonly provision: StateMachine;
}

/**
 * The control plane, as far as it is built: one Lambda per entry of `FUNCTIONS`, and the provision
 * state machine from `statemachines/provision.asl.json`, allowed to invoke exactly the Lambdas its
 * Tasks name.
 *
 * Not here yet: the API Gateway REST API, Cognito, the EventBridge rules, the deploy and deprovision
 * state machines, and the cell (platform) stack; they come with the AWS issue, as do the cloud
 * adapters. Until then a deployed handler stops at `ports()` ("Hostplane ports are not configured").
 */
export class ControlPlaneStack extends Stack {
  public readonly functions: Readonly<Record<FunctionName, HostplaneFunction>>;
  public readonly stateMachines: ControlPlaneStateMachines;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const environment = scopeSchema.shape.environment.parse(props.environment);
    Tags.of(this).add('hostplane:environment', environment);

    const provision = readAslFile('provision');
    this.functions = createFunctions(this, provision.taskTimeouts);
    this.stateMachines = {
      provision: this.aslStateMachine('Provision', provision, `/aws/vendedlogs/states/hostplane-${environment}-provision`),
    };
  }

  /**
   * A state machine from an ASL file: every `${<Name>FunctionArn}` is supplied as a definition
   * substitution and the role may invoke those functions and no other. The definition is inlined
   * (`fromString`, not `fromFile`, which would upload it as an S3 asset) so the template shows it.
   */
  private aslStateMachine(id: string, asl: AslFile, logGroupName: string): StateMachine {
    const logGroup = new LogGroup(this, `${id}Logs`, {
      logGroupName,
      retention: RetentionDays.ONE_MONTH,
      // Execution logs are scratch: what a tenant operation did is recorded in the registry.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stateMachine = new StateMachine(this, `${id}StateMachine`, {
      definitionBody: DefinitionBody.fromString(asl.text),
      definitionSubstitutions: Object.fromEntries(
        [...asl.functions].map((name) => [`${name}FunctionArn`, this.functions[name].functionArn]),
      ),
      // Transitions only: execution data holds tenant requests and plans.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    for (const name of asl.functions) this.functions[name].grantInvoke(stateMachine.role);
    return stateMachine;
  }
}

function createFunctions(scope: Construct, taskTimeouts: ReadonlyMap<FunctionName, number>): Record<FunctionName, HostplaneFunction> {
  const entries = (Object.keys(FUNCTIONS) as FunctionName[]).map((name) => {
    const seconds = taskTimeouts.get(name);
    const fn = new HostplaneFunction(scope, `${name}Function`, {
      entry: FUNCTIONS[name],
      // A Lambda must not stop before the Task state that waits for it.
      timeout: seconds === undefined ? undefined : Duration.seconds(seconds),
    });
    return [name, fn] as const;
  });
  return Object.fromEntries(entries) as Record<FunctionName, HostplaneFunction>;
}

interface AslState {
  readonly Type?: string;
  readonly Resource?: string;
  readonly TimeoutSeconds?: number;
  readonly Branches?: readonly AslMachine[];
  readonly Iterator?: AslMachine;
  readonly ItemProcessor?: AslMachine;
}

interface AslMachine {
  readonly States: Readonly<Record<string, AslState>>;
}

interface AslFile {
  readonly text: string;
  /** The functions the file's placeholders name. */
  readonly functions: ReadonlySet<FunctionName>;
  /** Function → the longest `TimeoutSeconds` of the Task states that invoke it. */
  readonly taskTimeouts: ReadonlyMap<FunctionName, number>;
}

/** Reads `statemachines/<name>.asl.json`; a placeholder that names no function of `FUNCTIONS` stops synthesis. */
function readAslFile(name: string): AslFile {
  const file = join(STATEMACHINES_DIR, `${name}.asl.json`);
  const text = readFileSync(file, 'utf8');
  const functions = new Set<FunctionName>();
  for (const [placeholder] of text.matchAll(/\$\{[^}]*\}/g)) {
    const fn = functionOfPlaceholder(placeholder);
    if (!fn) throw new Error(`${file}: ${placeholder} is not \${<Name>FunctionArn} for a Name in FUNCTIONS`);
    functions.add(fn);
  }
  const taskTimeouts = new Map<FunctionName, number>();
  for (const state of nestedStates(JSON.parse(text) as AslMachine)) {
    const fn = state.Type === 'Task' ? functionOfPlaceholder(state.Resource ?? '') : undefined;
    if (fn && state.TimeoutSeconds !== undefined) {
      taskTimeouts.set(fn, Math.max(taskTimeouts.get(fn) ?? 0, state.TimeoutSeconds));
    }
  }
  return { text, functions, taskTimeouts };
}

function nestedStates(machine: AslMachine): AslState[] {
  return Object.values(machine.States).flatMap((state) => [
    state,
    ...[...(state.Branches ?? []), ...(state.Iterator ? [state.Iterator] : []), ...(state.ItemProcessor ? [state.ItemProcessor] : [])].flatMap(
      nestedStates,
    ),
  ]);
}
