import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { taskFailed } from '../local/adapters/local-workflows.js';
import type { ContainerImage } from './container-images.js';

export interface JobRunnerOptions {
  readonly ecs: ECSClient;
  readonly image: ContainerImage;
  /** What the task's role and the machine give the container: credentials, the stand-in endpoints, the CA. */
  readonly machineEnvironment: () => Readonly<Record<string, string>>;
  readonly logDir: string;
  /** The longest a job may run here before it is stopped. @default 600_000 */
  readonly timeoutMs?: number;
}

/**
 * Step Functions' `ecs:runTask.sync` for the rehearsal: the task definition (as registered in moto
 * from the template) is run as one process of the job image's entrypoint, with the definition's
 * environment and the state's container overrides, and waited for. As the integration answers:
 * the stopped task's description; a non-zero exit fails the state with `States.TaskFailed`.
 */
export function jobRunner(options: JobRunnerOptions): (parameters: Readonly<Record<string, unknown>>) => Promise<unknown> {
  mkdirSync(options.logDir, { recursive: true });
  let next = 1;
  return async (parameters) => {
    const taskDefinitionArn = String(parameters.TaskDefinition);
    const { taskDefinition } = await options.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }));
    const container = taskDefinition?.containerDefinitions?.[0];
    if (!container) throw taskFailed({ Error: 'ECS.ClientException', Cause: `no task definition ${taskDefinitionArn}` });
    const overrides = (parameters.Overrides as { ContainerOverrides?: { Name?: string; Environment?: { Name: string; Value: string }[] }[] } | undefined)
      ?.ContainerOverrides?.find((override) => override.Name === container.name);
    const environment: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      ...options.image.environment,
      ...Object.fromEntries((container.environment ?? []).map((variable) => [variable.name!, variable.value ?? ''])),
      ...Object.fromEntries((overrides?.Environment ?? []).map((variable) => [variable.Name, variable.Value])),
      ...options.machineEnvironment(),
    };
    const taskArn = `${String(parameters.Cluster).replace(':cluster/', ':task/')}/rehearsal${next++}`;
    const log = createWriteStream(join(options.logDir, `${taskDefinition?.family ?? 'job'}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [options.image.entrypoint], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    const exitCode = await new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 137 : 1))));
    clearTimeout(timer);
    log.end();
    const stopped = {
      TaskArn: taskArn,
      TaskDefinitionArn: taskDefinitionArn,
      LastStatus: 'STOPPED',
      StopCode: 'EssentialContainerExited',
      Containers: [{ Name: container.name, ExitCode: exitCode }],
    };
    if (exitCode !== 0) throw taskFailed(stopped);
    return stopped;
  };
}
