import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ListServicesCommand, type ContainerDefinition, type ECSClient } from '@aws-sdk/client-ecs';
import { DescribeAccessPointsCommand, type EFSClient } from '@aws-sdk/client-efs';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DeregisterInstanceCommand, RegisterInstanceCommand, type ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { freeLoopbackPort } from './emulators/free-port.js';
import type { ContainerImage } from './container-images.js';

export interface EcsAgentOptions {
  readonly ecs: ECSClient;
  readonly efs: EFSClient;
  readonly secretsManager: SecretsManagerClient;
  readonly serviceDiscovery: ServiceDiscoveryClient;
  readonly cluster: string;
  /** The image every tenant task runs (the tenant runtime). */
  readonly image: ContainerImage;
  /** The folder that stands in for the cell's EFS file system: an access point's root directory is a folder under it. */
  readonly fileSystemDir: string;
  /** Variables of the container's machine: the CA it trusts, as the image's trust store would. */
  readonly machineEnvironment: Readonly<Record<string, string>>;
  readonly logDir: string;
  /** @default 100 */
  readonly pollIntervalMs?: number;
}

/** A tenant task the agent runs: one process of the image's entrypoint. */
export interface RunningTask {
  readonly serviceName: string;
  readonly taskDefinition: string;
  readonly process: ChildProcess;
  /** Where the app listens (the task's ENI address and port). */
  readonly endpoint: string;
  readonly appDir: string;
  readonly instance?: { readonly serviceId: string; readonly instanceId: string };
}

/**
 * The cell's ECS container instances, on one machine: watches the cluster's services in moto and,
 * for each ACTIVE service with a desired task, runs its task definition's container as a process of
 * the tenant image's entrypoint, with the definition's environment, its secrets read from Secrets
 * Manager as ECS would, its EFS access point's root directory as the mounted folder, and its
 * Cloud Map registration. A service deleted or scaled to zero has its task stopped (SIGTERM) and
 * deregistered. What stands for the task's own network interface: HOST and PORT on loopback, free ports.
 */
export class EcsAgent {
  private readonly tasks = new Map<string, RunningTask>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private readonly failures: string[] = [];

  constructor(private readonly options: EcsAgentOptions) {
    mkdirSync(options.logDir, { recursive: true });
  }

  start(): void {
    const tick = () => {
      this.polling = this.reconcile()
        .catch((error: unknown) => void this.failures.push(String(error)))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.options.pollIntervalMs ?? 100);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  running(): RunningTask[] {
    return [...this.tasks.values()];
  }

  /** What went wrong while starting tasks (a bad secret reference, a missing access point), newest last. */
  problems(): readonly string[] {
    return this.failures;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
    await Promise.all([...this.tasks.keys()].map((name) => this.stopTask(name)));
  }

  private async reconcile(): Promise<void> {
    const { ecs, cluster } = this.options;
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ecs.send(new ListServicesCommand({ cluster, nextToken }));
      arns.push(...(page.serviceArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const wanted = new Map<string, string>();
    const registries = new Map<string, string | undefined>();
    for (let index = 0; index < arns.length; index += 10) {
      const { services } = await ecs.send(new DescribeServicesCommand({ cluster, services: arns.slice(index, index + 10) }));
      for (const service of services ?? []) {
        if (service.status === 'ACTIVE' && (service.desiredCount ?? 0) > 0 && service.serviceName && service.taskDefinition) {
          wanted.set(service.serviceName, service.taskDefinition);
          registries.set(service.serviceName, service.serviceRegistries?.[0]?.registryArn);
        }
      }
    }
    for (const [name, task] of this.tasks) {
      if (wanted.get(name) !== task.taskDefinition) await this.stopTask(name);
    }
    for (const [name, taskDefinition] of wanted) {
      if (!this.tasks.has(name)) {
        try {
          await this.startTask(name, taskDefinition, registries.get(name));
        } catch (error) {
          this.failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  }

  private async startTask(serviceName: string, taskDefinitionArn: string, registryArn: string | undefined): Promise<void> {
    const { taskDefinition } = await this.options.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }));
    const container = taskDefinition?.containerDefinitions?.[0];
    if (!container) throw new Error(`${taskDefinitionArn} has no container`);
    const volume = taskDefinition?.volumes?.find((candidate) => candidate.name === container.mountPoints?.[0]?.sourceVolume);
    const accessPointId = volume?.efsVolumeConfiguration?.authorizationConfig?.accessPointId;
    if (!accessPointId) throw new Error(`${taskDefinitionArn} mounts no EFS access point`);
    const { AccessPoints } = await this.options.efs.send(new DescribeAccessPointsCommand({ AccessPointId: accessPointId }));
    const root = AccessPoints?.[0]?.RootDirectory?.Path;
    if (!root) throw new Error(`access point ${accessPointId} has no root directory`);
    const appDir = join(this.options.fileSystemDir, root);
    mkdirSync(appDir, { recursive: true });
    const port = await freeLoopbackPort();
    const healthPort = await freeLoopbackPort();
    const environment: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      ...this.options.image.environment,
      ...Object.fromEntries((container.environment ?? []).map((variable) => [variable.name!, variable.value ?? ''])),
      ...(await this.secrets(container)),
      ...this.options.machineEnvironment,
      // The task's network interface and its mounted folder, on this machine.
      HOST: '127.0.0.1',
      PORT: String(port),
      HOSTPLANE_RUNTIME_HEALTH_PORT: String(healthPort),
      HOSTPLANE_APP_DIR: appDir,
    };
    const log = createWriteStream(join(this.options.logDir, `${serviceName}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [this.options.image.entrypoint], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('exit', () => log.end());
    const serviceId = registryArn?.split('/').pop();
    let instance: RunningTask['instance'];
    if (serviceId) {
      const instanceId = `rehearsal-${serviceName}`;
      await this.options.serviceDiscovery.send(
        new RegisterInstanceCommand({ ServiceId: serviceId, InstanceId: instanceId, Attributes: { AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: String(port) } }),
      );
      instance = { serviceId, instanceId };
    }
    this.tasks.set(serviceName, { serviceName, taskDefinition: taskDefinitionArn, process: child, endpoint: `127.0.0.1:${port}`, appDir, instance });
  }

  /** ECS's `secrets`: `<secret ARN>:<json key>::` read at start, as the execution role would. */
  private async secrets(container: ContainerDefinition): Promise<Record<string, string>> {
    const values: Record<string, string> = {};
    for (const secret of container.secrets ?? []) {
      const match = /^(arn:[^:]+:secretsmanager:[^:]+:[^:]+:secret:[^:]+):([^:]*):([^:]*):([^:]*)$/.exec(secret.valueFrom ?? '');
      if (!match) throw new Error(`${secret.name}: ${secret.valueFrom} is not a "<secret ARN>:<key>::" reference`);
      const { SecretString } = await this.options.secretsManager.send(new GetSecretValueCommand({ SecretId: match[1] }));
      const key = match[2];
      const value = key ? (JSON.parse(SecretString ?? '{}') as Record<string, unknown>)[key] : SecretString;
      if (value === undefined) throw new Error(`${secret.name}: the secret ${match[1]} has no key ${key}`);
      values[secret.name!] = String(value);
    }
    return values;
  }

  private async stopTask(serviceName: string): Promise<void> {
    const task = this.tasks.get(serviceName);
    if (!task) return;
    this.tasks.delete(serviceName);
    if (task.instance) {
      await this.options.serviceDiscovery.send(new DeregisterInstanceCommand({ ServiceId: task.instance.serviceId, InstanceId: task.instance.instanceId })).catch(() => undefined);
    }
    if (task.process.exitCode !== null || task.process.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => task.process.once('exit', () => resolve()));
    task.process.kill('SIGTERM');
    const killer = setTimeout(() => task.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }
}
