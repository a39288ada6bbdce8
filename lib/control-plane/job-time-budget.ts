import { ECS_RUN_TASK_SYNC, jobOfPlaceholder, type JobName } from '../../lambdas/jobs.js';

/**
 * How long each job may run: the `TimeoutSeconds` of the Task state that runs it, after which Step
 * Functions stops its ECS task (a task has no deadline of its own). BackupTenant: a big tenant's
 * final backup may take up to an hour (ADR 0006).
 */
export const JOB_TIMEOUT_SECONDS: Readonly<Record<JobName, number>> = {
  BackupTenant: 60 * 60,
};

/** What of an ASL state the time budget reads. */
export interface TimedState {
  readonly Type?: string;
  readonly Resource?: string;
  readonly Parameters?: { readonly TaskDefinition?: unknown };
  readonly TimeoutSeconds?: number;
  readonly Seconds?: number;
  readonly Next?: string;
  readonly Default?: string;
  readonly Choices?: readonly { readonly Next?: string }[];
  readonly Catch?: readonly { readonly Next?: string }[];
  readonly Branches?: readonly TimedMachine[];
}

export interface TimedMachine {
  readonly StartAt: string;
  readonly TimeoutSeconds?: number;
  readonly States: Readonly<Record<string, TimedState>>;
}

/**
 * The longest a run of `machine` from `from` to an end may take with one attempt per state: along
 * every path (Next, Choices, Default, Catch), the Task timeouts and Wait seconds added up, a Parallel
 * counting as its longest branch. A state without a timeout counts nothing.
 */
export function longestRunSeconds(machine: TimedMachine, from: string = machine.StartAt): number {
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const fromState = (name: string): number => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const state = machine.States[name];
    if (!state) throw new Error(`longestRunSeconds: no state "${name}"`);
    if (visiting.has(name)) throw new Error(`longestRunSeconds: "${name}" is on a loop, which has no longest run`);
    visiting.add(name);
    const own =
      state.Type === 'Parallel' ? Math.max(0, ...(state.Branches ?? []).map((branch) => longestRunSeconds(branch))) : (state.TimeoutSeconds ?? state.Seconds ?? 0);
    const next = [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)].filter(
      (n): n is string => n !== undefined,
    );
    const total = own + Math.max(0, ...next.map(fromState));
    visiting.delete(name);
    memo.set(name, total);
    return total;
  };
  return fromState(from);
}

/** The job a state runs (`ecs:runTask.sync` of `${<Job>TaskDefinitionArn}`), if it runs one. */
export function jobOfState(state: TimedState): JobName | undefined {
  if (state.Type !== 'Task' || state.Resource !== ECS_RUN_TASK_SYNC) return undefined;
  const taskDefinition = state.Parameters?.TaskDefinition;
  return typeof taskDefinition === 'string' ? jobOfPlaceholder(taskDefinition) : undefined;
}

/**
 * The problems of a machine that runs jobs, for its time budget: each job's Task must time out after
 * `JOB_TIMEOUT_SECONDS`, and the machine's own `TimeoutSeconds` must cover its longest run, so that a
 * job running to its limit still leaves time for every state after it (the removals, the failure
 * bookkeeping) instead of the whole execution timing out mid-way. Empty when the budget holds.
 */
export function jobTimeBudgetProblems(machine: TimedMachine, jobTimeouts: Readonly<Record<JobName, number>> = JOB_TIMEOUT_SECONDS): string[] {
  const jobs = Object.entries(machine.States).flatMap(([name, state]) => {
    const job = jobOfState(state);
    return job ? [{ name, state, job }] : [];
  });
  if (jobs.length === 0) return [];
  const problems = jobs
    .filter(({ state, job }) => state.TimeoutSeconds !== jobTimeouts[job])
    .map(({ name, state, job }) => `${name} runs ${job} with TimeoutSeconds ${state.TimeoutSeconds}, not JOB_TIMEOUT_SECONDS.${job} (${jobTimeouts[job]})`);
  const longest = longestRunSeconds(machine);
  if (machine.TimeoutSeconds === undefined || machine.TimeoutSeconds < longest) {
    problems.push(
      `the machine's TimeoutSeconds (${machine.TimeoutSeconds}) is shorter than its longest run (${longest} s, ${jobs.map(({ name }) => name).join(', ')} included): a job that runs to its limit would leave no time for the states after it`,
    );
  }
  return problems;
}
