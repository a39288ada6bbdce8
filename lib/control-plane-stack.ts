import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { scopeSchema } from '../lambdas/domain/naming.js';
import { FUNCTIONS, functionOfPlaceholder } from '../lambdas/functions.js';
import type { FunctionName } from '../lambdas/functions.js';
import { START_EXECUTION_SYNC, stateMachineSubstitution, workflowOfPlaceholder, type WorkflowName } from '../lambdas/ports/workflows.js';
import { HostplaneFunction, REPOSITORY_ROOT } from './hostplane-function.js';
import { PlatformEventRules } from './platform-event-rules.js';

export const STATEMACHINES_DIR = join(REPOSITORY_ROOT, 'statemachines');

export interface ControlPlaneStackProps extends StackProps {
  /** The environment this copy of the control plane serves (dev, prod, a test run); the rule of `scopeSchema`. */
  readonly environment: string;
}

/** The state machines built so far, by workflow. */
export interface ControlPlaneStateMachines {
  readonly provision: StateMachine;
  readonly deploy: StateMachine;
  readonly deprovision: StateMachine;
}

/**
 * The control plane, as far as it is built: one Lambda per entry of `FUNCTIONS`, and the provision,
 * deploy and deprovision state machines from `statemachines/*.asl.json`, each allowed to invoke
 * exactly the Lambdas its Tasks name (and provision to run deploy to completion).
 *
 * The EventBridge rules (ended executions, app definition changed, the drift schedule) are in
 * `PlatformEventRules`. Not here yet: the API Gateway REST API, Cognito and the cell (platform)
 * stack; they come with the AWS issue, as do the cloud adapters. Until then a deployed handler
 * stops at `ports()` ("Hostplane ports are not configured").
 */
export class ControlPlaneStack extends Stack {
  public readonly functions: Readonly<Record<FunctionName, HostplaneFunction>>;
  public readonly stateMachines: ControlPlaneStateMachines;
  public readonly eventRules: PlatformEventRules;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const environment = scopeSchema.shape.environment.parse(props.environment);
    Tags.of(this).add('hostplane:environment', environment);

    const provision = readAslFile('provision');
    const deploy = readAslFile('deploy');
    const deprovision = readAslFile('deprovision');
    this.functions = createFunctions(this, mergeTimeouts(provision.taskTimeouts, deploy.taskTimeouts, deprovision.taskTimeouts));
    const deployMachine = this.aslStateMachine('Deploy', deploy, `/aws/vendedlogs/states/hostplane-${environment}-deploy`, {});
    this.stateMachines = {
      deploy: deployMachine,
      provision: this.aslStateMachine('Provision', provision, `/aws/vendedlogs/states/hostplane-${environment}-provision`, { deploy: deployMachine }),
      deprovision: this.aslStateMachine('Deprovision', deprovision, `/aws/vendedlogs/states/hostplane-${environment}-deprovision`, {}),
    };
    this.eventRules = new PlatformEventRules(this, 'EventRules', {
      executionStatusChanged: this.functions.ExecutionStatusChanged,
      appDefinitionChanged: this.functions.AppDefinitionChanged,
      reconcileTenants: this.functions.ReconcileTenants,
      stateMachines: Object.values(this.stateMachines),
    });
  }

  /**
   * A state machine from an ASL file: every `${<Name>FunctionArn}` is supplied as a definition
   * substitution and the role may invoke those functions and no other. The definition is inlined
   * (`fromString`, not `fromFile`, which would upload it as an S3 asset) so the template shows it.
   */
  private aslStateMachine(
    id: string,
    asl: AslFile,
    logGroupName: string,
    children: Partial<Record<WorkflowName, StateMachine>>,
  ): StateMachine {
    const childOf = (workflow: WorkflowName): StateMachine => {
      const child = children[workflow];
      if (!child) throw new Error(`${id}: its definition runs the ${workflow} state machine, which is not built before it`);
      return child;
    };
    const logGroup = new LogGroup(this, `${id}Logs`, {
      logGroupName,
      retention: RetentionDays.ONE_MONTH,
      // Execution logs are scratch: what a tenant operation did is recorded in the registry.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stateMachine = new StateMachine(this, `${id}StateMachine`, {
      definitionBody: DefinitionBody.fromString(asl.text),
      definitionSubstitutions: {
        ...Object.fromEntries([...asl.functions].map((name) => [`${name}FunctionArn`, this.functions[name].functionArn])),
        ...Object.fromEntries([...asl.workflows].map((workflow) => [stateMachineSubstitution(workflow), childOf(workflow).stateMachineArn])),
      },
      // Transitions only: execution data holds tenant requests and plans.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    for (const name of asl.functions) this.functions[name].grantInvoke(stateMachine.role);
    for (const workflow of asl.workflows) this.grantRunToCompletion(stateMachine, childOf(workflow));
    return stateMachine;
  }

  /**
   * What `states:startExecution.sync:2` needs: start the child, describe and stop its executions,
   * and the managed EventBridge rule through which Step Functions learns that the child ended.
   */
  private grantRunToCompletion(parent: StateMachine, child: StateMachine): void {
    child.grantStartExecution(parent.role);
    child.grantExecution(parent.role, 'states:DescribeExecution', 'states:StopExecution');
    parent.addToRolePolicy(
      new PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          Stack.of(this).formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule' }),
        ],
      }),
    );
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
  /** The state machines it runs to completion (`${<Workflow>StateMachineArn}` in a startExecution.sync Task). */
  readonly workflows: ReadonlySet<WorkflowName>;
  /** Function → the longest `TimeoutSeconds` of the Task states that invoke it. */
  readonly taskTimeouts: ReadonlyMap<FunctionName, number>;
}

/**
 * Reads `statemachines/<name>.asl.json`; a placeholder that names no function of `FUNCTIONS` (nor
 * another state machine) stops synthesis.
 */
function readAslFile(name: string): AslFile {
  const file = join(STATEMACHINES_DIR, `${name}.asl.json`);
  const text = readFileSync(file, 'utf8');
  const functions = new Set<FunctionName>();
  const workflows = new Set<WorkflowName>();
  for (const [placeholder] of text.matchAll(/\$\{[^}]*\}/g)) {
    const fn = functionOfPlaceholder(placeholder);
    const workflow = workflowOfPlaceholder(placeholder);
    if (fn) functions.add(fn);
    else if (workflow) workflows.add(workflow);
    else throw new Error(`${file}: ${placeholder} is not \${<Name>FunctionArn} for a Name in FUNCTIONS, nor \${<Workflow>StateMachineArn}`);
  }
  if (workflows.size > 0 && !text.includes(START_EXECUTION_SYNC)) {
    throw new Error(`${file}: names a state machine but never runs one with ${START_EXECUTION_SYNC}`);
  }
  const taskTimeouts = new Map<FunctionName, number>();
  for (const state of nestedStates(JSON.parse(text) as AslMachine)) {
    const fn = state.Type === 'Task' ? functionOfPlaceholder(state.Resource ?? '') : undefined;
    if (fn && state.TimeoutSeconds !== undefined) {
      taskTimeouts.set(fn, Math.max(taskTimeouts.get(fn) ?? 0, state.TimeoutSeconds));
    }
  }
  return { text, functions, workflows, taskTimeouts };
}

function mergeTimeouts(...maps: ReadonlyMap<FunctionName, number>[]): Map<FunctionName, number> {
  const merged = new Map<FunctionName, number>();
  for (const map of maps) for (const [fn, seconds] of map) merged.set(fn, Math.max(merged.get(fn) ?? 0, seconds));
  return merged;
}

function nestedStates(machine: AslMachine): AslState[] {
  return Object.values(machine.States).flatMap((state) => [
    state,
    ...[...(state.Branches ?? []), ...(state.Iterator ? [state.Iterator] : []), ...(state.ItemProcessor ? [state.ItemProcessor] : [])].flatMap(
      nestedStates,
    ),
  ]);
}
