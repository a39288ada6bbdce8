import { JOB_NAME_VARIABLE, JOBS, isJobName, jobInputFromEnvironment, type JobName } from '../../lambdas/jobs.js';

/** A job's handler: the very `handler` its entry file exports for Lambda (middy: event, context). */
export type JobHandler = (event: unknown, context: JobContext) => Promise<unknown>;

/** What a Lambda handler may read of its context, as an ECS task offers it. */
interface JobContext {
  readonly functionName: string;
  readonly awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/**
 * What a job reports as its remaining time: the longest a Node timer can wait (2^31 - 1 ms, about
 * 24 days). middy arms a timer at the remaining time to end a handler before Lambda would; a larger
 * value (Number.MAX_SAFE_INTEGER, as this once said) overflows the timer, which then fires after
 * 1 ms and aborts every job at once. An ECS task has no deadline of its own: the Task state's
 * TimeoutSeconds stops it.
 */
export const JOB_REMAINING_TIME_MS = 2 ** 31 - 1;

export interface JobOutcome {
  readonly exitCode: 0 | 1 | 2;
  /** One JSON line for the task's log: what ran and how it ended. */
  readonly line: string;
}

/**
 * Runs the job the environment names with the input the environment carries, and says how the
 * container should exit: 0 done, 1 the job failed, 2 the container was started wrongly (no or an
 * unknown job, a missing input variable). Never throws.
 */
export async function runJob(env: Readonly<Record<string, string | undefined>>, handlers: Readonly<Record<JobName, JobHandler>>): Promise<JobOutcome> {
  const name = env[JOB_NAME_VARIABLE];
  if (!name || !isJobName(name)) {
    return { exitCode: 2, line: JSON.stringify({ job: name ?? null, outcome: 'refused', error: `${JOB_NAME_VARIABLE} must name one of ${Object.keys(JOBS).join(', ')}` }) };
  }
  let input;
  try {
    input = jobInputFromEnvironment(env);
  } catch (error) {
    return { exitCode: 2, line: JSON.stringify({ job: name, outcome: 'refused', error: error instanceof Error ? error.message : String(error) }) };
  }
  const started = Date.now();
  try {
    const result = await handlers[name](input, {
      functionName: `job:${name}`,
      awsRequestId: input.operationId,
      getRemainingTimeInMillis: () => JOB_REMAINING_TIME_MS,
    });
    return { exitCode: 0, line: JSON.stringify({ job: name, operationId: input.operationId, outcome: 'succeeded', ms: Date.now() - started, result }) };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { exitCode: 1, line: JSON.stringify({ job: name, operationId: input.operationId, outcome: 'failed', ms: Date.now() - started, error: e.name, message: e.message }) };
  }
}
