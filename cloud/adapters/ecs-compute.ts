/**
 * Cloud compute: a tenant's ECS service on the cell's cluster (bin-packed on its EC2 capacity
 * provider, bridge networking with a dynamic host port), registered in the cell's Cloud Map
 * namespace under `<tenant>.<namespace>` (the SRV record, holding the instance's address and the
 * host port ECS picked, that the edge forwards to), with its own EFS access point and its own task
 * role. Every step is create-or-adopt on the way up and delete-if-present on the way down.
 */
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type CreateServiceCommandInput,
  type ECSClient,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type ServiceRegistry,
} from '@aws-sdk/client-ecs';
import type { EFSClient } from '@aws-sdk/client-efs';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { PermanentError, TransientError, ValidationError, errorMessage } from '../../lambdas/domain/errors.js';
import type { ComputePort, ComputeService, ComputeSpec } from '../../lambdas/ports/compute.js';
import { callAws, isAwsError, toDomainError } from './aws-errors.js';
import { pollUntil, realSleep, type PollSettings } from './poll-until.js';
import { TenantAccessPoints } from './tenant-access-point.js';
import { TENANT_CONTAINER_NAME, isTenantServiceName, tenantComputeNames, type TenantComputeNames } from './tenant-compute-names.js';
import { TenantDiscoveryServices, type DiscoveryService } from './tenant-discovery-service.js';
import { secretReferences } from './tenant-secret-references.js';
import { SPEC_HASH_TAG, tenantTaskDefinition } from './tenant-task-definition.js';
import { TenantTaskRoles, type AwsLocation } from './tenant-task-role.js';

export interface EcsComputeOptions {
  readonly ecs: ECSClient;
  readonly serviceDiscovery: ServiceDiscoveryClient;
  readonly efs: EFSClient;
  readonly iam: IAMClient;
  /** Resolves the secrets a spec names to their full ARNs, which ECS needs to read one JSON key. */
  readonly secretsManager: SecretsManagerClient;
  /** The cell's cluster, by name or ARN. */
  readonly cluster: string;
  /** The cell's EC2 capacity provider: tenant tasks are bin-packed on its instances. */
  readonly capacityProvider: string;
  /** The cell's private DNS namespace. */
  readonly namespace: { readonly id: string; readonly name: string };
  /** The cell's app-files file system. */
  readonly fileSystemId: string;
  /** The tenant runtime image (the reloader as entrypoint). */
  readonly tenantImage: string;
  /** The cell's task execution role: pulls the image, writes logs, reads the tenants' secrets at start. */
  readonly executionRoleArn: string;
  readonly region: string;
  readonly accountId: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** The port the tenant's apps serve on. @default 8080 */
  readonly appPort?: number;
  /** The loopback port of the reloader's `/__runtime/healthz` in the container. @default 8081 */
  readonly runtimeHealthPort?: number;
  /** The CloudWatch Logs group of the tenants' containers (created by the cell's stack). @default `/hostplane/<cluster name>/tenants` */
  readonly logGroupName?: string;
  /** This environment's name: listServices returns only `hp-<environment>-…` services. @default any name of naming.ts's shape */
  readonly environment?: string;
  /** The permissions boundary of every task role created (the cell's tenant task boundary policy). */
  readonly permissionsBoundaryArn: string;
  /** Tags on everything created. */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * How long ensureService (all of it) and removeService wait for AWS, then a TransientError that the
   * state machine retries. Shorter than the function's timeout (300 s, the StartTenantCompute Task's),
   * so a cell waiting for an instance ends the attempt as a retryable error, not a Lambda timeout.
   * @default 240_000
   */
  readonly waitTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/** See {@link EcsComputeOptions.waitTimeoutMs}. */
export const DEFAULT_WAIT_TIMEOUT_MS = 240_000;

/** DescribeServices takes at most ten services a call. */
const DESCRIBE_BATCH = 10;

/** Tenant compute on ECS; see the file's header. */
export class EcsCompute implements ComputePort {
  private readonly ecs: ECSClient;
  private readonly secretsManager: SecretsManagerClient;
  private readonly options: EcsComputeOptions;
  private readonly where: AwsLocation;
  private readonly appPort: number;
  private readonly runtimeHealthPort: number;
  private readonly logGroup: string;
  private readonly tags: Readonly<Record<string, string>>;
  private readonly poll: PollSettings;
  private readonly accessPoints: TenantAccessPoints;
  private readonly roles: TenantTaskRoles;
  private readonly discovery: TenantDiscoveryServices;

  constructor(options: EcsComputeOptions) {
    this.options = options;
    this.ecs = options.ecs;
    this.secretsManager = options.secretsManager;
    this.where = { partition: options.partition ?? 'aws', region: options.region, accountId: options.accountId };
    this.appPort = options.appPort ?? 8080;
    this.runtimeHealthPort = options.runtimeHealthPort ?? 8081;
    if (this.appPort === this.runtimeHealthPort) throw new ValidationError('runtimeHealthPort', `must differ from appPort (${this.appPort})`);
    this.logGroup = options.logGroupName ?? `/hostplane/${options.cluster.split('/').pop()}/tenants`;
    this.tags = { 'hostplane:managed-by': 'hostplane', ...options.tags };
    this.poll = { sleep: options.sleep ?? realSleep, now: options.now ?? Date.now, timeoutMs: options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS };
    this.accessPoints = new TenantAccessPoints({ efs: options.efs, fileSystemId: options.fileSystemId, where: this.where, tags: this.tags, poll: this.poll });
    this.roles = new TenantTaskRoles({ iam: options.iam, where: this.where, permissionsBoundaryArn: options.permissionsBoundaryArn, tags: this.tags });
    this.discovery = new TenantDiscoveryServices({ serviceDiscovery: options.serviceDiscovery, namespace: options.namespace, tags: this.tags });
  }

  /**
   * Access point, task role, Cloud Map service, task definition, ECS service, in that order (each
   * needs the one before), then waits until a task of the current definition runs and its
   * deployment is complete.
   */
  async ensureService(spec: ComputeSpec): Promise<ComputeService> {
    const deadline = this.poll.now() + this.poll.timeoutMs;
    const names = tenantComputeNames(spec.serviceName);
    if (names.tenantId !== spec.tenantId) {
      throw new ValidationError('serviceName', `${spec.serviceName} is not the service of tenant ${spec.tenantId}`);
    }
    const accessPoint = await this.accessPoints.ensure(names, spec.appFilesFolder);
    const role = await this.roles.ensure(names, {
      ...(spec.assetsBucket !== undefined ? { assetsBucket: spec.assetsBucket } : {}),
      secretNames: spec.secretNames,
      fileSystemId: this.options.fileSystemId,
      accessPointArn: accessPoint.arn,
    });
    const registry = await this.discovery.ensure(names);
    const definition = tenantTaskDefinition({
      spec,
      image: this.options.tenantImage,
      executionRoleArn: this.options.executionRoleArn,
      taskRoleArn: role.arn,
      fileSystemId: this.options.fileSystemId,
      accessPointId: accessPoint.id,
      secrets: await secretReferences(this.secretsManager, spec.secretEnvironment),
      appPort: this.appPort,
      runtimeHealthPort: this.runtimeHealthPort,
      logGroup: this.logGroup,
      region: this.where.region,
      tags: this.tags,
    });
    const taskDefinitionArn = await this.ensureTaskDefinition(names, definition, role.created);
    await this.ensureEcsService(names, taskDefinitionArn, registry);
    await this.waitSteady(names, taskDefinitionArn, deadline);
    return { serviceName: names.serviceName, running: true, endpoint: this.discovery.endpointOf(names) };
  }

  /**
   * Scales the service to zero, deletes it and waits until ECS has let it go; then removes the
   * task definitions, the Cloud Map service, the task role and the access point (the tenant's files
   * stay: the app-files step removes them). Each part is delete-if-present, so a half-made tenant
   * is removed as far as it got. Says whether any part existed.
   */
  async removeService(serviceName: string): Promise<boolean> {
    const names = tenantComputeNames(serviceName);
    let existed = await this.removeEcsService(names);
    const failures: unknown[] = [];
    for (const removePart of [
      () => this.deregisterTaskDefinitions(names),
      () => this.discovery.remove(names),
      () => this.roles.remove(names),
      () => this.accessPoints.remove(names),
    ]) {
      try {
        existed = (await removePart()) || existed;
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) {
      const message = `removing the compute of ${serviceName}: ${failures.map(errorMessage).join('; ')}`;
      throw failures.every((failure) => failure instanceof TransientError) ? new TransientError(message) : new PermanentError(message);
    }
    return existed;
  }

  async describeService(serviceName: string): Promise<ComputeService | undefined> {
    const names = tenantComputeNames(serviceName);
    const service = await this.describe(serviceName);
    if (!service || service.status === 'INACTIVE') return undefined;
    return {
      serviceName,
      running: service.status === 'ACTIVE' && (service.runningCount ?? 0) >= 1,
      endpoint: this.discovery.endpointOf(names),
    };
  }

  /** The ACTIVE tenant services on the cluster that belong to this environment, sorted. */
  async listServices(): Promise<string[]> {
    const prefix = this.options.environment !== undefined ? `hp-${this.options.environment}-` : 'hp-';
    const candidates: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await callAws(`listing the services of cluster ${this.options.cluster}`, () =>
        this.ecs.send(new ListServicesCommand({ cluster: this.options.cluster, maxResults: 100, ...(nextToken ? { nextToken } : {}) })),
      );
      for (const arn of page.serviceArns ?? []) {
        const name = arn.slice(arn.lastIndexOf('/') + 1);
        if (name.startsWith(prefix) && isTenantServiceName(name)) candidates.push(name);
      }
      nextToken = page.nextToken;
    } while (nextToken);
    const active: string[] = [];
    for (let start = 0; start < candidates.length; start += DESCRIBE_BATCH) {
      const batch = candidates.slice(start, start + DESCRIBE_BATCH);
      const described = await callAws(`describing services of cluster ${this.options.cluster}`, () =>
        this.ecs.send(new DescribeServicesCommand({ cluster: this.options.cluster, services: batch })),
      );
      for (const service of described.services ?? []) {
        if (service.status === 'ACTIVE' && service.serviceName) active.push(service.serviceName);
      }
    }
    return active.sort();
  }

  /**
   * The latest ACTIVE revision of the family when it was registered from the same definition (its
   * spec-hash tag matches), else a new revision. A task role made moments ago may not be visible
   * to ECS yet (IAM is eventually consistent): ECS refusing the definition then is a TransientError.
   */
  private async ensureTaskDefinition(names: TenantComputeNames, definition: RegisterTaskDefinitionCommandInput, roleIsNew: boolean): Promise<string> {
    const hash = definition.tags?.find((tag) => tag.key === SPEC_HASH_TAG)?.value;
    const latest = await this.latestTaskDefinition(names.family);
    if (latest && latest.hash === hash) return latest.arn;
    try {
      const registered = await this.ecs.send(new RegisterTaskDefinitionCommand(definition));
      const arn = registered.taskDefinition?.taskDefinitionArn;
      if (!arn) throw new TransientError(`registering task definition ${names.family}: ECS returned no ARN`);
      return arn;
    } catch (error) {
      if (roleIsNew && isAwsError(error, 'ClientException', 'InvalidParameterException')) {
        throw new TransientError(`registering task definition ${names.family} with the new task role ${names.taskRole}: ${errorMessage(error)}`);
      }
      throw toDomainError(error, `registering task definition ${names.family}`);
    }
  }

  private async latestTaskDefinition(family: string): Promise<{ arn: string; hash: string | undefined } | undefined> {
    try {
      // A bare family describes its latest ACTIVE revision (ECS API reference, DescribeTaskDefinition).
      const described = await this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ['TAGS'] }));
      const arn = described.taskDefinition?.taskDefinitionArn;
      if (!arn || described.taskDefinition?.status !== 'ACTIVE') return undefined;
      return { arn, hash: described.tags?.find((tag) => tag.key === SPEC_HASH_TAG)?.value };
    } catch (error) {
      // ECS answers a family without an ACTIVE revision with ClientException ("Unable to describe task definition").
      if (isAwsError(error, 'ClientException')) return undefined;
      throw toDomainError(error, `describing task definition ${family}`);
    }
  }

  /** Creates the service, re-creates one that is INACTIVE (or DRAINING, once it is gone), or moves an ACTIVE one to the definition. */
  private async ensureEcsService(names: TenantComputeNames, taskDefinition: string, registry: DiscoveryService): Promise<void> {
    let service = await this.describe(names.serviceName);
    if (service?.status === 'DRAINING') {
      await this.waitGone(names.serviceName);
      service = undefined;
    }
    if (!service || service.status === 'INACTIVE') {
      try {
        await this.ecs.send(new CreateServiceCommand(this.createServiceInput(names, taskDefinition, registry)));
        return;
      } catch (error) {
        // Another run created it between our describe and create: adopt it below.
        if (!(isAwsError(error, 'InvalidParameterException') && /idempotent/i.test(errorMessage(error)))) {
          throw toDomainError(error, `creating ECS service ${names.serviceName}`);
        }
        service = await this.describe(names.serviceName);
        if (service?.status !== 'ACTIVE') throw new TransientError(`ECS service ${names.serviceName} is being created by another run`);
      }
    }
    const registered = service.serviceRegistries?.[0]?.registryArn;
    const desiredCount = Math.max(1, service.desiredCount ?? 0);
    if (service.taskDefinition === taskDefinition && service.desiredCount === desiredCount && registered === registry.arn) return;
    await callAws(`updating ECS service ${names.serviceName}`, () =>
      this.ecs.send(
        new UpdateServiceCommand({
          cluster: this.options.cluster,
          service: names.serviceName,
          taskDefinition,
          desiredCount,
          ...(registered !== registry.arn ? { serviceRegistries: [this.serviceRegistry(registry)] } : {}),
        }),
      ),
    );
  }

  private createServiceInput(names: TenantComputeNames, taskDefinition: string, registry: DiscoveryService): CreateServiceCommandInput {
    return {
      cluster: this.options.cluster,
      serviceName: names.serviceName,
      taskDefinition,
      desiredCount: 1,
      capacityProviderStrategy: [{ capacityProvider: this.options.capacityProvider, weight: 1 }],
      placementStrategy: [{ type: 'binpack', field: 'memory' }],
      serviceRegistries: [this.serviceRegistry(registry)],
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, minimumHealthyPercent: 100, maximumPercent: 200 },
      enableExecuteCommand: false,
      enableECSManagedTags: true,
      propagateTags: 'SERVICE',
      tags: Object.entries({ ...this.tags, 'hostplane:tenant': names.tenantId }).map(([key, value]) => ({ key, value })),
    };
  }

  /**
   * Bridge networking with an SRV record: the registry must name the container and its port, and ECS
   * registers the instance's address with the host port mapped to it (ECS API reference, ServiceRegistry).
   */
  private serviceRegistry(registry: DiscoveryService): ServiceRegistry {
    return { registryArn: registry.arn, containerName: TENANT_CONTAINER_NAME, containerPort: this.appPort };
  }

  /**
   * Until a task runs and the deployment of `taskDefinition` is COMPLETED (its tasks passed their
   * health check), at most until `deadline`. A FAILED rollout (the circuit breaker gave up and rolled
   * back) is a PermanentError. Running out of time is a TransientError that carries the service's
   * latest event: "unable to place a task" while the capacity provider starts an instance.
   */
  private async waitSteady(names: TenantComputeNames, taskDefinition: string, deadline: number): Promise<void> {
    let latestEvent: string | undefined;
    try {
      await this.pollSteady(names, taskDefinition, deadline, (event) => (latestEvent = event));
    } catch (error) {
      if (error instanceof TransientError && latestEvent !== undefined) throw new TransientError(`${error.message} (ECS said: ${latestEvent})`);
      throw error;
    }
  }

  private async pollSteady(names: TenantComputeNames, taskDefinition: string, deadline: number, onEvent: (message: string) => void): Promise<void> {
    await pollUntil(
      `ECS service ${names.serviceName} to run ${taskDefinition}`,
      async () => {
        const service = await this.describe(names.serviceName);
        const event = service?.events?.[0]?.message;
        if (event !== undefined) onEvent(event);
        if (service?.status !== 'ACTIVE') throw new TransientError(`ECS service ${names.serviceName} went away while it was starting`);
        const ours = service.deployments?.find((deployment) => deployment.taskDefinition === taskDefinition);
        if (ours?.rolloutState === 'FAILED') {
          throw new PermanentError(`ECS service ${names.serviceName} could not start ${taskDefinition}: ${ours.rolloutStateReason ?? 'rollout failed'}`);
        }
        const primary = service.deployments?.find((deployment) => deployment.status === 'PRIMARY');
        const steady = primary?.taskDefinition === taskDefinition && primary.rolloutState === 'COMPLETED' && (service.runningCount ?? 0) >= 1;
        return steady ? true : undefined;
      },
      { ...this.poll, timeoutMs: Math.max(deadline - this.poll.now(), 0) },
    );
  }

  /** Deletes the ECS service if present and waits until it is gone; says whether it was there. */
  private async removeEcsService(names: TenantComputeNames): Promise<boolean> {
    const service = await this.describe(names.serviceName);
    if (!service || service.status === 'INACTIVE') return false;
    if (service.status === 'ACTIVE') {
      const target = { cluster: this.options.cluster, service: names.serviceName };
      await this.tolerateGone(`scaling ECS service ${names.serviceName} to zero`, () => this.ecs.send(new UpdateServiceCommand({ ...target, desiredCount: 0 })));
      await this.tolerateGone(`deleting ECS service ${names.serviceName}`, () => this.ecs.send(new DeleteServiceCommand({ ...target, force: true })));
    }
    await this.waitGone(names.serviceName);
    return true;
  }

  /** Runs a call on a service that may already be going away: "not active" or "not found" is fine. */
  private async tolerateGone(doing: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      if (!isAwsError(error, 'ServiceNotActiveException', 'ServiceNotFoundException')) throw toDomainError(error, doing);
    }
  }

  private async waitGone(serviceName: string): Promise<void> {
    await pollUntil(
      `ECS service ${serviceName} to drain and become INACTIVE`,
      async () => {
        const service = await this.describe(serviceName);
        return !service || service.status === 'INACTIVE' ? true : undefined;
      },
      this.poll,
    );
  }

  /** Deregisters every ACTIVE revision of the family (ListTaskDefinitions matches a prefix: the family is checked exactly). */
  private async deregisterTaskDefinitions(names: TenantComputeNames): Promise<boolean> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await callAws(`listing task definitions ${names.family}`, () =>
        this.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: names.family, status: 'ACTIVE', ...(nextToken ? { nextToken } : {}) })),
      );
      arns.push(...(page.taskDefinitionArns ?? []).filter((arn) => familyOf(arn) === names.family));
      nextToken = page.nextToken;
    } while (nextToken);
    for (const arn of arns) {
      await callAws(`deregistering task definition ${arn}`, () => this.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn })));
    }
    return arns.length > 0;
  }

  /** The service, or undefined when ECS reports it MISSING. */
  private async describe(serviceName: string): Promise<Service | undefined> {
    const described = await callAws(`describing ECS service ${serviceName}`, () =>
      this.ecs.send(new DescribeServicesCommand({ cluster: this.options.cluster, services: [serviceName] })),
    );
    return described.services?.find((service) => service.serviceName === serviceName);
  }
}

/** `arn:…:task-definition/<family>:<revision>` → family. */
function familyOf(taskDefinitionArn: string): string | undefined {
  return /task-definition\/([^/:]+):\d+$/.exec(taskDefinitionArn)?.[1];
}
