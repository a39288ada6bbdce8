import { performance } from 'node:perf_hooks';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import '../../local/promise-with-resolvers.js';
import { describeFailure as describeLocalFailure, taskFailed } from '../../local/adapters/local-workflows.js';
import { asLambdaFailure } from '../../local/lambda-invoker.js';
import { allStates, type AslMachine } from '../../local/state-machine-definitions.js';
import { ECS_RUN_TASK_SYNC } from '../../lambdas/jobs.js';
import { START_EXECUTION_SYNC } from '../../lambdas/ports/workflows.js';

/** A state machine of the synthesized template: its ARN and its definition with every substitution resolved. */
export interface DeployedStateMachine {
  readonly arn: string;
  readonly name: string;
  readonly definition: AslMachine;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface Execution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  readonly done: Promise<void>;
}

/** One Task state's run, for the rehearsal's report. */
export interface TaskRecord {
  readonly stateMachine: string;
  readonly state: string;
  readonly target: string;
  readonly durationMs: number;
  readonly outcome: 'ok' | 'error';
}

export interface StepFunctionsServiceOptions {
  readonly machines: readonly DeployedStateMachine[];
  /** Lambda's Invoke: the payload back, or a LambdaInvocationFailure. */
  readonly invokeFunction: (functionArn: string, payload: unknown) => Promise<unknown>;
  /** ECS RunTask, waited for: the stopped task's description, or a failure whose cause is that description. */
  readonly runTaskSync: (parameters: Readonly<Record<string, unknown>>) => Promise<unknown>;
  /** EventBridge's "Step Functions Execution Status Change" for every execution that ends. */
  readonly onExecutionEnded: (execution: Execution) => void;
}

/**
 * Step Functions for the rehearsal: the synthesized definitions run by aws-local-stepfunctions,
 * Lambda tasks invoking the bundles, `startExecution.sync:2` starting another machine here,
 * `ecs:runTask.sync` running the job container's entrypoint.
 */
export class StepFunctionsService {
  readonly tasks: TaskRecord[] = [];
  private readonly machines = new Map<string, DeployedStateMachine>();
  private readonly executions = new Map<string, Execution>();
  private readonly aborts = new Map<string, () => void>();

  constructor(private readonly options: StepFunctionsServiceOptions) {
    for (const machine of options.machines) this.machines.set(machine.arn, machine);
  }

  stateMachineArns(): string[] {
    return [...this.machines.keys()];
  }

  /** StartExecution: a running execution of the same name and input is returned again; otherwise a name is used once. */
  startExecution(stateMachineArn: string, name: string, input: string): Execution {
    const machine = this.machines.get(stateMachineArn);
    if (!machine) throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new ServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const stateMachine = new StateMachine(machine.definition as unknown as StateMachineDefinition, { validationOptions: { checkPaths: true, checkArn: true } });
    const run = stateMachine.run(JSON.parse(input) as never, {
      overrides: { taskResourceLocalHandlers: this.taskHandlers(machine) },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: new Date().toISOString(), Input: JSON.parse(input) as unknown },
        StateMachine: { Id: stateMachineArn, Name: machine.name },
      } as never,
    });
    const done = run.result.then(
      (output: unknown) => {
        execution.status = 'SUCCEEDED';
        execution.output = JSON.stringify(output ?? null);
      },
      (error: unknown) => {
        const failed = describeFailure(error);
        execution.status = failed.status;
        execution.error = failed.error;
        execution.cause = failed.cause;
      },
    );
    const execution: Execution = { executionArn, stateMachineArn, name, input, startDate: new Date(), status: 'RUNNING', done };
    this.executions.set(executionArn, execution);
    this.aborts.set(executionArn, run.abort);
    void done.then(() => {
      execution.stopDate = new Date();
      this.aborts.delete(executionArn);
      this.options.onExecutionEnded(execution);
    });
    return execution;
  }

  describeExecution(executionArn: string): Execution {
    const execution = this.executions.get(executionArn);
    if (!execution) throw new ServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  stopExecution(executionArn: string, error?: string, cause?: string): Execution {
    const execution = this.describeExecution(executionArn);
    if (execution.status === 'RUNNING') {
      this.aborts.get(executionArn)?.();
      execution.status = 'ABORTED';
      execution.error = error;
      execution.cause = cause;
    }
    return execution;
  }

  listExecutions(stateMachineArn: string, status?: ExecutionStatus): Execution[] {
    return [...this.executions.values()].filter((execution) => execution.stateMachineArn === stateMachineArn && (!status || execution.status === status));
  }

  running(): Execution[] {
    return [...this.executions.values()].filter((execution) => execution.status === 'RUNNING');
  }

  /** Aborts whatever still runs and waits for every execution to settle. */
  async stop(): Promise<void> {
    for (const abort of this.aborts.values()) abort();
    await Promise.all([...this.executions.values()].map((execution) => execution.done));
  }

  private taskHandlers(machine: DeployedStateMachine): Record<string, (input: unknown) => Promise<never>> {
    const handlers: Record<string, (input: unknown) => Promise<never>> = {};
    for (const [stateName, state] of allStates(machine.definition)) {
      if (state.Type !== 'Task') continue;
      const resource = state.Resource ?? '';
      handlers[stateName] = async (taskInput: unknown) => {
        const started = performance.now();
        const target = resource === START_EXECUTION_SYNC ? 'startExecution.sync' : resource === ECS_RUN_TASK_SYNC ? 'ecs:runTask.sync' : resource.split(':').pop()!;
        const record = (outcome: TaskRecord['outcome']) =>
          this.tasks.push({ stateMachine: machine.name, state: stateName, target, durationMs: performance.now() - started, outcome });
        try {
          const output =
            resource === START_EXECUTION_SYNC
              ? await this.startExecutionSync(taskInput)
              : resource === ECS_RUN_TASK_SYNC
                ? await this.options.runTaskSync((taskInput ?? {}) as Record<string, unknown>)
                : await this.options.invokeFunction(resource, taskInput);
          record('ok');
          return output as never;
        } catch (error) {
          record('error');
          throw asLambdaFailure(error);
        }
      };
    }
    return handlers;
  }

  /** `states:startExecution.sync:2`: the child's description, its output as JSON; a child that did not succeed fails the Task. */
  private async startExecutionSync(taskInput: unknown): Promise<unknown> {
    const { StateMachineArn, Name, Input } = (taskInput ?? {}) as { StateMachineArn?: string; Name?: string; Input?: unknown };
    const child = this.startExecution(String(StateMachineArn), Name ?? `child-${Date.now().toString(36)}`, JSON.stringify(Input ?? {}));
    await child.done;
    const described = { ExecutionArn: child.executionArn, StateMachineArn: child.stateMachineArn, Name: child.name, Status: child.status };
    if (child.status !== 'SUCCEEDED') {
      throw taskFailed({ ...described, Error: child.error, Cause: child.cause });
    }
    return { ...described, Output: JSON.parse(child.output ?? 'null') as unknown };
  }
}

/** An error of the service's API (`__type` in awsJson1_0). */
export class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

/** As the local engine reads aws-local-stepfunctions' errors (its own describeFailure), with Step Functions' TIMED_OUT besides. */
function describeFailure(error: unknown): { status: ExecutionStatus; error?: string; cause?: string } {
  if (error instanceof Error && error.name === 'ExecutionTimeoutError') return { status: 'TIMED_OUT', error: 'States.Timeout' };
  const { status, error: name, cause } = describeLocalFailure('', error);
  return { status, error: name, cause };
}
