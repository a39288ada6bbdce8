import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import '../promise-with-resolvers.js';
import type { EventsPort } from '../../lambdas/ports/events.js';
import type { WorkflowInput, WorkflowName, WorkflowsPort } from '../../lambdas/ports/workflows.js';
import { JOB_CONTAINER, jobInputFromEnvironment, type JobName } from '../../lambdas/jobs.js';
import { loadFunctionHandler, loadJobHandler } from '../function-handlers.js';
import { asLambdaFailure, invokeLikeLambda } from '../lambda-invoker.js';
import { loadDefinition, workflowOfLocalArn, type LoadedDefinition } from '../state-machine-definitions.js';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface ExecutionResult {
  readonly executionId: string;
  readonly status: Exclude<ExecutionStatus, 'RUNNING'>;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

export interface LocalWorkflowsOptions {
  readonly events: EventsPort;
  /** Folder of the ASL files. @default the repository's statemachines/ */
  readonly statemachinesDir?: string;
  /** Waits between retries, in ms, instead of the ASL's backoff (tests keep it short). @default the ASL's own */
  readonly retryIntervalMs?: number;
  /**
   * Fault injection for tests: the named Task states fail with `error`, either before their
   * handler runs or after it did its work (as when a Lambda's answer is lost). Read at each call.
   */
  readonly faults?: Readonly<Record<string, InjectedFault>>;
}

export interface InjectedFault {
  readonly error: Error;
  readonly when: 'before' | 'after';
}

interface Execution {
  readonly workflow: WorkflowName;
  readonly result: Promise<ExecutionResult>;
  abort(): void;
}

/**
 * The workflows port on one machine: the same ASL files, run by aws-local-stepfunctions, each
 * Task invoking the same handler the Lambda exports, with Lambda's payload and error shapes.
 * When an execution ends it publishes EventBridge's "Step Functions Execution Status Change".
 */
export class LocalWorkflows implements WorkflowsPort {
  private readonly executions = new Map<string, Execution>();
  private readonly definitions = new Map<WorkflowName, Promise<LoadedDefinition>>();

  constructor(private readonly options: LocalWorkflowsOptions) {}

  async start(workflow: WorkflowName, executionName: string, input: WorkflowInput): Promise<{ executionId: string }> {
    const executionId = `local:${workflow}:${executionName}`;
    if (this.executions.has(executionId)) return { executionId };
    const { definition, tasks } = await this.definition(workflow);
    const machine = new StateMachine(definition as unknown as StateMachineDefinition, {
      validationOptions: { checkPaths: true, checkArn: true },
    });

    const taskResourceLocalHandlers: Record<string, (input: unknown) => Promise<never>> = {};
    for (const [stateName, target] of tasks) {
      taskResourceLocalHandlers[stateName] = async (taskInput: unknown) => {
        const fault = this.options.faults?.[stateName];
        if (fault?.when === 'before') throw asLambdaFailure(fault.error);
        checkPayloadSize(stateName, 'input', taskInput);
        const output =
          target.kind === 'function'
            ? await invokeLikeLambda(await loadFunctionHandler(target.name), target.name, taskInput)
            : target.kind === 'job'
              ? await runJob(target.name, taskInput)
              : await this.runChild(taskInput);
        if (fault?.when === 'after') throw asLambdaFailure(fault.error);
        checkPayloadSize(stateName, 'output', output);
        return output as never;
      };
    }
    const retryIntervalOverrides =
      this.options.retryIntervalMs === undefined
        ? undefined
        : Object.fromEntries([...tasks.keys()].map((name) => [name, this.options.retryIntervalMs!]));

    const run = machine.run(JSON.parse(JSON.stringify(input)), {
      overrides: { taskResourceLocalHandlers, retryIntervalOverrides },
      context: {
        Execution: { Id: executionId, Name: executionName, StartTime: new Date().toISOString(), Input: input },
        StateMachine: { Id: `local:${workflow}`, Name: workflow },
      } as never,
    });
    const result = run.result.then(
      (output): ExecutionResult => ({ executionId, status: 'SUCCEEDED', output }),
      (error: unknown): ExecutionResult => describeFailure(executionId, error),
    );
    this.executions.set(executionId, { workflow, result, abort: run.abort });
    void result.then((ended) => this.announce(workflow, executionName, ended));
    return { executionId };
  }

  /** Resolves when the execution ends. */
  async waitFor(executionId: string): Promise<ExecutionResult> {
    const execution = this.executions.get(executionId);
    if (!execution) throw new Error(`no local execution ${executionId}`);
    return execution.result;
  }

  /** Executions still running. */
  running(): string[] {
    return [...this.executions.keys()];
  }

  /** Waits for every execution to end (or aborts them all with `abort`), for a clean shutdown. */
  async drain({ abort = false } = {}): Promise<void> {
    const all = [...this.executions.values()];
    if (abort) all.forEach((execution) => execution.abort());
    await Promise.all(all.map((execution) => execution.result));
  }

  /**
   * The `states:startExecution.sync:2` integration: starts the named state machine and waits for it.
   * As in Step Functions, the answer carries the child's output as JSON, and a child that did not
   * succeed fails the Task with `States.TaskFailed`, its cause the child's error and cause.
   */
  private async runChild(taskInput: unknown): Promise<unknown> {
    const { StateMachineArn, Name, Input } = (taskInput ?? {}) as { StateMachineArn?: unknown; Name?: unknown; Input?: unknown };
    const workflow = workflowOfLocalArn(StateMachineArn);
    if (!workflow) throw taskFailed({ Error: 'StepFunctions.StateMachineDoesNotExistException', Cause: `no local state machine ${String(StateMachineArn)}` });
    const name = typeof Name === 'string' && Name ? Name : `child-${Date.now().toString(36)}`;
    const input = typeof Input === 'object' && Input !== null ? (Input as WorkflowInput) : {};
    const { executionId } = await this.start(workflow, name, input);
    const ended = await this.waitFor(executionId);
    const described = { ExecutionArn: executionId, StateMachineArn, Name: name, Status: ended.status };
    if (ended.status !== 'SUCCEEDED') throw taskFailed({ ...described, Error: ended.error ?? 'States.TaskFailed', Cause: ended.cause ?? '' });
    return { ...described, Output: ended.output ?? null };
  }

  private definition(workflow: WorkflowName): Promise<LoadedDefinition> {
    let loaded = this.definitions.get(workflow);
    if (!loaded) {
      loaded = loadDefinition(workflow, this.options.statemachinesDir);
      this.definitions.set(workflow, loaded);
    }
    return loaded;
  }

  private async announce(workflow: WorkflowName, executionName: string, ended: ExecutionResult): Promise<void> {
    try {
      await this.options.events.publish({
        source: 'aws.states',
        detailType: 'Step Functions Execution Status Change',
        detail: {
          executionArn: ended.executionId,
          stateMachineArn: `local:${workflow}`,
          name: executionName,
          status: ended.status,
          error: ended.error ?? null,
          cause: ended.cause ?? null,
        },
      });
    } finally {
      this.executions.delete(ended.executionId);
    }
  }
}

/** Step Functions' limit on a task's input and output (and a state's data): 256 KiB of UTF-8 JSON. */
export const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** As Step Functions would, a payload over the limit fails the state with States.DataLimitExceeded (which States.ALL does not catch). */
function checkPayloadSize(stateName: string, what: 'input' | 'output', payload: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(payload ?? null));
  if (bytes <= STATE_PAYLOAD_LIMIT_BYTES) return;
  const error = new Error(`the ${what} of ${stateName} is ${bytes} bytes, over the ${STATE_PAYLOAD_LIMIT_BYTES}-byte limit of a state's data`);
  error.name = 'States.DataLimitExceeded';
  throw error;
}

/**
 * The `ecs:runTask.sync` integration on one machine: the job's handler runs in-process with the input
 * its container would read from the environment overrides. As in Step Functions, the answer describes
 * the stopped task, and a job that failed fails the Task with `States.TaskFailed`, the task its cause.
 */
async function runJob(name: JobName, taskInput: unknown): Promise<unknown> {
  const overrides = (taskInput as { Overrides?: { ContainerOverrides?: { Name?: string; Environment?: { Name?: string; Value?: string }[] }[] } })
    ?.Overrides?.ContainerOverrides;
  const container = overrides?.find((override) => override.Name === JOB_CONTAINER);
  const env = Object.fromEntries((container?.Environment ?? []).map((variable) => [variable.Name ?? '', variable.Value]));
  const taskArn = `arn:aws:ecs:us-east-1:000000000000:task/hostplane-local/${name}-${Date.now().toString(36)}`;
  const stopped = (exitCode: number, reason?: string) => ({
    TaskArn: taskArn,
    LastStatus: 'STOPPED',
    StopCode: 'EssentialContainerExited',
    Containers: [{ Name: JOB_CONTAINER, ExitCode: exitCode, ...(reason ? { Reason: reason } : {}) }],
  });
  try {
    await invokeLikeLambda(await loadJobHandler(name), name, jobInputFromEnvironment(env));
    return stopped(0);
  } catch (error) {
    throw taskFailed(stopped(1, error instanceof Error ? `${error.name}: ${error.message}` : String(error)));
  }
}

/** A Task's failure as a Step Functions integration reports it: `States.TaskFailed`, its cause as JSON. */
export function taskFailed(cause: Readonly<Record<string, unknown>>): Error {
  const error = new Error(JSON.stringify(cause));
  error.name = 'States.TaskFailed';
  return error;
}

/** How an execution that aws-local-stepfunctions ended with `error` is described (status, error and cause). */
export function describeFailure(executionId: string, error: unknown): ExecutionResult {
  const e = error instanceof Error ? error : new Error(String(error));
  if (e.name === 'ExecutionAbortedError') return { executionId, status: 'ABORTED', error: 'States.Aborted' };
  const cause = (e as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) return { executionId, status: 'FAILED', error: cause.name, cause: cause.message };
  return { executionId, status: 'FAILED', error: e.name, cause: e.message };
}
