import 'aws-sdk-client-mock-jest';
import { readFileSync } from 'node:fs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ClientException,
  CreateServiceCommand as CreateEcsServiceCommand,
  DeleteServiceCommand as DeleteEcsServiceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  InvalidParameterException,
  ListServicesCommand as ListEcsServicesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
  type Service,
} from '@aws-sdk/client-ecs';
import {
  AccessPointAlreadyExists,
  AccessPointNotFound,
  CreateAccessPointCommand,
  DeleteAccessPointCommand,
  DescribeAccessPointsCommand,
  EFSClient,
} from '@aws-sdk/client-efs';
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  EntityAlreadyExistsException,
  IAMClient,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { DescribeSecretCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateServiceCommand as CreateDiscoveryServiceCommand,
  DeleteServiceCommand as DeleteDiscoveryServiceCommand,
  ListServicesCommand as ListDiscoveryServicesCommand,
  ResourceInUse,
  ServiceAlreadyExists,
  ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { ErrorNames } from '../../lambdas/domain/errors.js';
import type { ComputeSpec } from '../../lambdas/ports/compute.js';
import { DEFAULT_WAIT_TIMEOUT_MS, EcsCompute, type EcsComputeOptions } from '../../cloud/adapters/ecs-compute.js';

const ecs = mockClient(ECSClient);
const efs = mockClient(EFSClient);
const iam = mockClient(IAMClient);
const secrets = mockClient(SecretsManagerClient);
const cloudMap = mockClient(ServiceDiscoveryClient);

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const CLUSTER = 'hp-dev-c1';
const FS = 'fs-0123456789abcdef0';
const NAMESPACE = { id: 'ns-abc123', name: 'c1.hostplane.internal' };
const IMAGE = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/hostplane-tenant:1.4.0`;
const EXECUTION_ROLE = `arn:aws:iam::${ACCOUNT}:role/hp-dev-c1-task-execution`;
const BOUNDARY = `arn:aws:iam::${ACCOUNT}:policy/hostplane/dev/hp-dev-tenant-task-boundary`;
const DB_SECRET = 'hostplane/dev/c1/acme/database';
const CACHE_SECRET = 'hostplane/dev/c1/acme/cache';
const DB_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${DB_SECRET}-Ab12Cd`;
const CACHE_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${CACHE_SECRET}-Ef34Gh`;
const ACCESS_POINT_ID = 'fsap-0aaa1111bbbb2222c';
const ACCESS_POINT_ARN = `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:access-point/${ACCESS_POINT_ID}`;
const DISCOVERY = { id: 'srv-acme0001', arn: `arn:aws:servicediscovery:${REGION}:${ACCOUNT}:service/srv-acme0001` };
const TASK_DEF_1 = `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/hp-dev-c1-acme:1`;
const TASK_DEF_2 = `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/hp-dev-c1-acme:2`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/hostplane/dev/hp-dev-c1-acme-task`;

const spec: ComputeSpec = {
  serviceName: 'hp-dev-c1-acme',
  tenantId: 'acme',
  displayName: 'Acme',
  memoryMb: 512,
  memoryReservationMb: 128,
  cpuUnits: 32,
  appFilesFolder: 'tenants/acme',
  secretNames: [DB_SECRET, CACHE_SECRET],
  secretEnvironment: [
    { name: 'PGHOST', secretName: DB_SECRET, key: 'host' },
    { name: 'PGPASSWORD', secretName: DB_SECRET, key: 'password' },
    { name: 'REDIS_URL', secretName: CACHE_SECRET, key: 'url', optional: true },
  ],
  assetsBucket: 'hp-dev-c1-acme-assets',
};

/** An error as an AWS SDK v3 client throws it, for services whose package exports no class for it. */
function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode } });
}

const meta = { $metadata: {} };

let clock: number;
let sleeps: number[];

function compute(overrides: Partial<EcsComputeOptions> = {}): EcsCompute {
  return new EcsCompute({
    ecs: new ECSClient({ region: REGION }),
    serviceDiscovery: new ServiceDiscoveryClient({ region: REGION }),
    efs: new EFSClient({ region: REGION }),
    iam: new IAMClient({ region: REGION }),
    secretsManager: new SecretsManagerClient({ region: REGION }),
    cluster: CLUSTER,
    capacityProvider: 'hp-dev-c1-fleet',
    namespace: NAMESPACE,
    fileSystemId: FS,
    tenantImage: IMAGE,
    executionRoleArn: EXECUTION_ROLE,
    permissionsBoundaryArn: BOUNDARY,
    region: REGION,
    accountId: ACCOUNT,
    environment: 'dev',
    tags: { 'hostplane:environment': 'dev' },
    waitTimeoutMs: 60_000,
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    ...overrides,
  });
}

function ecsService(overrides: Partial<Service>): Service {
  return {
    serviceName: spec.serviceName,
    status: 'ACTIVE',
    desiredCount: 1,
    runningCount: 1,
    taskDefinition: TASK_DEF_1,
    serviceRegistries: [{ registryArn: DISCOVERY.arn, containerName: 'app', containerPort: 8080 }],
    deployments: [{ status: 'PRIMARY', taskDefinition: TASK_DEF_1, rolloutState: 'COMPLETED' }],
    ...overrides,
  };
}

const missing = { services: [], failures: [{ arn: `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${CLUSTER}/${spec.serviceName}`, reason: 'MISSING' }] };

/** A tenant of whom nothing exists yet: every create succeeds. */
function freshTenant(): void {
  efs.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({ AccessPoints: [] });
  efs.on(CreateAccessPointCommand).resolves({ AccessPointId: ACCESS_POINT_ID, AccessPointArn: ACCESS_POINT_ARN, LifeCycleState: 'creating' });
  efs.on(DescribeAccessPointsCommand, { AccessPointId: ACCESS_POINT_ID }).resolves({ AccessPoints: [{ AccessPointId: ACCESS_POINT_ID, LifeCycleState: 'available' }] });
  iam.on(CreateRoleCommand).resolves({});
  iam.on(PutRolePolicyCommand).resolves({});
  cloudMap.on(CreateDiscoveryServiceCommand).resolves({ Service: { Id: DISCOVERY.id, Arn: DISCOVERY.arn } });
  secrets.on(DescribeSecretCommand, { SecretId: DB_SECRET }).resolves({ ARN: DB_SECRET_ARN, Name: DB_SECRET });
  secrets.on(DescribeSecretCommand, { SecretId: CACHE_SECRET }).resolves({ ARN: CACHE_SECRET_ARN, Name: CACHE_SECRET });
  ecs.on(DescribeTaskDefinitionCommand).rejects(new ClientException({ message: 'Unable to describe task definition.', ...meta }));
  ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TASK_DEF_1, status: 'ACTIVE' } });
  ecs.on(CreateEcsServiceCommand).resolves({ service: ecsService({ runningCount: 0 }) });
  ecs
    .on(DescribeServicesCommand)
    .resolvesOnce(missing)
    .resolvesOnce({ services: [ecsService({ runningCount: 0, deployments: [{ status: 'PRIMARY', taskDefinition: TASK_DEF_1, rolloutState: 'IN_PROGRESS' }] })] })
    .resolvesOnce({ services: [ecsService({ runningCount: 1, deployments: [{ status: 'PRIMARY', taskDefinition: TASK_DEF_1, rolloutState: 'IN_PROGRESS' }] })] })
    .resolves({ services: [ecsService({})] });
}

beforeEach(() => {
  for (const client of [ecs, efs, iam, secrets, cloudMap]) client.reset();
  clock = 1_000_000;
  sleeps = [];
});

describe('EcsCompute.ensureService', () => {
  it('creates the access point, task role, Cloud Map service, task definition and service, then returns the SRV name', async () => {
    freshTenant();

    const service = await compute().ensureService(spec);

    expect(service).toEqual({ serviceName: 'hp-dev-c1-acme', running: true, endpoint: 'acme.c1.hostplane.internal' });
    expect(efs).toHaveReceivedCommandWith(CreateAccessPointCommand, {
      ClientToken: 'hp-dev-c1-acme',
      FileSystemId: FS,
      PosixUser: { Uid: 1000, Gid: 1000 },
      RootDirectory: { Path: '/tenants/acme', CreationInfo: { OwnerUid: 1000, OwnerGid: 1000, Permissions: '0755' } },
      Tags: [
        { Key: 'hostplane:managed-by', Value: 'hostplane' },
        { Key: 'hostplane:environment', Value: 'dev' },
        { Key: 'hostplane:service', Value: 'hp-dev-c1-acme' },
        { Key: 'hostplane:tenant', Value: 'acme' },
      ],
    });
    expect(cloudMap).toHaveReceivedCommandWith(CreateDiscoveryServiceCommand, {
      Name: 'acme',
      NamespaceId: NAMESPACE.id,
      CreatorRequestId: 'hp-dev-c1-acme',
      DnsConfig: { RoutingPolicy: 'MULTIVALUE', DnsRecords: [{ Type: 'SRV', TTL: 10 }] },
      HealthCheckCustomConfig: { FailureThreshold: 1 },
    });
    expect(ecs).toHaveReceivedCommandWith(CreateEcsServiceCommand, {
      cluster: CLUSTER,
      serviceName: 'hp-dev-c1-acme',
      taskDefinition: TASK_DEF_1,
      desiredCount: 1,
      capacityProviderStrategy: [{ capacityProvider: 'hp-dev-c1-fleet', weight: 1 }],
      placementStrategy: [{ type: 'binpack', field: 'memory' }],
      serviceRegistries: [{ registryArn: DISCOVERY.arn, containerName: 'app', containerPort: 8080 }],
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, minimumHealthyPercent: 100, maximumPercent: 200 },
      enableExecuteCommand: false,
      enableECSManagedTags: true,
      propagateTags: 'SERVICE',
    });
    expect(ecs).toHaveReceivedCommandTimes(CreateEcsServiceCommand, 1);
    expect(ecs).toHaveReceivedCommandTimes(UpdateServiceCommand, 0);
    // Bridge networking: no network configuration (ECS refuses one outside awsvpc).
    expect(ecs.commandCalls(CreateEcsServiceCommand)[0]!.args[0].input.networkConfiguration).toBeUndefined();
  });

  it('creates a task role that ECS tasks of this account alone may assume, bounded by the tenant task boundary', async () => {
    freshTenant();

    await compute().ensureService(spec);

    expect(iam).toHaveReceivedCommandWith(CreateRoleCommand, { RoleName: 'hp-dev-c1-acme-task', Path: '/hostplane/dev/', PermissionsBoundary: BOUNDARY });
    const trust = JSON.parse(iam.commandCalls(CreateRoleCommand)[0]?.args[0].input.AssumeRolePolicyDocument ?? '{}') as unknown;
    expect(trust).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'EcsTasksOfThisAccount',
          Effect: 'Allow',
          Principal: { Service: 'ecs-tasks.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT }, ArnLike: { 'aws:SourceArn': `arn:aws:ecs:${REGION}:${ACCOUNT}:*` } },
        },
      ],
    });
  });

  it('gives the task role only its own bucket, its own secrets and its own access point', async () => {
    freshTenant();

    await compute().ensureService(spec);

    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, { RoleName: 'hp-dev-c1-acme-task', PolicyName: 'tenant-access' });
    const policy = JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]?.args[0].input.PolicyDocument ?? '{}') as unknown;
    expect(policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'OwnAssetObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::hp-dev-c1-acme-assets/*' },
        { Sid: 'OwnAssetBucketListing', Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::hp-dev-c1-acme-assets' },
        {
          Sid: 'OwnSecrets',
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: [
            `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:hostplane/dev/c1/acme/database-??????`,
            `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:hostplane/dev/c1/acme/cache-??????`,
          ],
        },
        {
          Sid: 'OwnAppFilesThroughOwnAccessPoint',
          Effect: 'Allow',
          Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
          Resource: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/${FS}`,
          Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': ACCESS_POINT_ARN } },
        },
      ],
    });
    expect(JSON.stringify(policy)).not.toMatch(/"\*"|:\*"|secret:\*/);
  });

  it('registers an EC2 bridge task definition with a dynamic host port, container sizes, the EFS volume, the reloader environment, the secrets and a runtime health check', async () => {
    freshTenant();

    await compute().ensureService(spec);

    expect(ecs).toHaveReceivedCommandWith(RegisterTaskDefinitionCommand, {
      family: 'hp-dev-c1-acme',
      taskRoleArn: ROLE_ARN,
      executionRoleArn: EXECUTION_ROLE,
      networkMode: 'bridge',
      requiresCompatibilities: ['EC2'],
      volumes: [
        {
          name: 'app-files',
          efsVolumeConfiguration: { fileSystemId: FS, transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: ACCESS_POINT_ID, iam: 'ENABLED' } },
        },
      ],
      containerDefinitions: [
        {
          name: 'app',
          image: IMAGE,
          essential: true,
          cpu: 32,
          memory: 512,
          memoryReservation: 128,
          portMappings: [{ name: 'http', containerPort: 8080, hostPort: 0, protocol: 'tcp' }],
          environment: [
            { name: 'HOSTPLANE_TENANT_ID', value: 'acme' },
            { name: 'HOSTPLANE_APP_DIR', value: '/srv/hostplane/app' },
            { name: 'HOST', value: '0.0.0.0' },
            { name: 'PORT', value: '8080' },
            { name: 'HOSTPLANE_RUNTIME_HEALTH_HOST', value: '127.0.0.1' },
            { name: 'HOSTPLANE_RUNTIME_HEALTH_PORT', value: '8081' },
            { name: 'HOSTPLANE_DRAIN_DEADLINE_MS', value: '20000' },
            { name: 'HOSTPLANE_DB_POOL_MAX', value: '3' },
            { name: 'HOSTPLANE_ASSETS_BUCKET', value: 'hp-dev-c1-acme-assets' },
          ],
          secrets: [
            { name: 'PGHOST', valueFrom: `${DB_SECRET_ARN}:host::` },
            { name: 'PGPASSWORD', valueFrom: `${DB_SECRET_ARN}:password::` },
            { name: 'REDIS_URL', valueFrom: `${CACHE_SECRET_ARN}:url::` },
          ],
          mountPoints: [{ sourceVolume: 'app-files', containerPath: '/srv/hostplane/app', readOnly: false }],
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': '/hostplane/hp-dev-c1/tenants', 'awslogs-region': REGION, 'awslogs-stream-prefix': 'acme' },
          },
          healthCheck: {
            command: [
              'CMD',
              'node',
              '-e',
              'fetch("http://127.0.0.1:8081/__runtime/healthz").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))',
            ],
            interval: 10,
            timeout: 5,
            retries: 3,
            startPeriod: 20,
          },
          stopTimeout: 30,
        },
      ],
    });
    // Each secret is looked up once, however many variables it feeds.
    expect(secrets).toHaveReceivedCommandTimes(DescribeSecretCommand, 2);
  });

  it('waits, with backoff and without real sleeping, until the service runs and its deployment is complete', async () => {
    freshTenant();

    await compute().ensureService(spec);

    // One describe before creating, then pending (no task), running but rolling out, complete.
    expect(ecs).toHaveReceivedCommandTimes(DescribeServicesCommand, 4);
    expect(sleeps).toEqual([1_000, 2_000]);
  });

  it('leaves out an optional variable whose secret does not exist (a tenant without a cache)', async () => {
    freshTenant();
    secrets.on(DescribeSecretCommand, { SecretId: CACHE_SECRET }).rejects(new ResourceNotFoundException({ message: 'not found', ...meta }));

    await compute().ensureService(spec);

    const input = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input;
    expect(input?.containerDefinitions?.[0]?.secrets?.map((secret) => secret.name)).toEqual(['PGHOST', 'PGPASSWORD']);
  });

  it('fails with a TransientError, before creating the service, when a required secret is not there yet', async () => {
    freshTenant();
    secrets.on(DescribeSecretCommand, { SecretId: DB_SECRET }).rejects(new ResourceNotFoundException({ message: 'not found', ...meta }));

    await expect(compute().ensureService(spec)).rejects.toMatchObject({ name: ErrorNames.transient, message: expect.stringContaining(DB_SECRET) });
    expect(ecs).toHaveReceivedCommandTimes(RegisterTaskDefinitionCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(CreateEcsServiceCommand, 0);
  });

  it('adopts every part on a second run: no second access point, role, Cloud Map service, task definition or service', async () => {
    freshTenant();
    await compute().ensureService(spec);
    const registered = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input as RegisterTaskDefinitionCommandInput;
    for (const client of [ecs, efs, iam, secrets, cloudMap]) client.reset();
    sleeps = [];
    efs.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({
      AccessPoints: [
        { AccessPointId: 'fsap-other', ClientToken: 'hp-dev-c1-bravo', RootDirectory: { Path: '/tenants/bravo' }, LifeCycleState: 'available' },
        { AccessPointId: ACCESS_POINT_ID, ClientToken: 'hp-dev-c1-acme', RootDirectory: { Path: '/tenants/acme' }, LifeCycleState: 'available' },
      ],
    });
    iam.on(CreateRoleCommand).rejects(new EntityAlreadyExistsException({ message: 'Role with name hp-dev-c1-acme-task already exists.', ...meta }));
    iam.on(PutRolePolicyCommand).resolves({});
    cloudMap
      .on(CreateDiscoveryServiceCommand)
      .rejects(new ServiceAlreadyExists({ message: 'Service already exists', ServiceId: DISCOVERY.id, ServiceArn: DISCOVERY.arn, ...meta }));
    secrets.on(DescribeSecretCommand, { SecretId: DB_SECRET }).resolves({ ARN: DB_SECRET_ARN });
    secrets.on(DescribeSecretCommand, { SecretId: CACHE_SECRET }).resolves({ ARN: CACHE_SECRET_ARN });
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TASK_DEF_1, status: 'ACTIVE' }, tags: registered.tags });
    ecs.on(DescribeServicesCommand).resolves({ services: [ecsService({})] });

    const service = await compute().ensureService(spec);

    expect(service).toEqual({ serviceName: 'hp-dev-c1-acme', running: true, endpoint: 'acme.c1.hostplane.internal' });
    expect(efs).toHaveReceivedCommandTimes(CreateAccessPointCommand, 0);
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 1);
    // The policy is written again, naming the adopted access point.
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 1);
    expect(iam.commandCalls(PutRolePolicyCommand)[0]?.args[0].input.PolicyDocument).toContain(ACCESS_POINT_ARN);
    expect(ecs).toHaveReceivedCommandTimes(RegisterTaskDefinitionCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(CreateEcsServiceCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(UpdateServiceCommand, 0);
    expect(sleeps).toEqual([]);
  });

  it('adopts the access point that a concurrent run created between the lookup and the create', async () => {
    freshTenant();
    efs.on(CreateAccessPointCommand).rejects(new AccessPointAlreadyExists({ message: 'exists', ErrorCode: 'AccessPointAlreadyExists', AccessPointId: ACCESS_POINT_ID, ...meta }));

    await compute().ensureService(spec);

    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input.volumes?.[0]?.efsVolumeConfiguration?.authorizationConfig).toEqual({
      accessPointId: ACCESS_POINT_ID,
      iam: 'ENABLED',
    });
  });

  it('refuses to adopt an access point of this service that is rooted at another folder', async () => {
    freshTenant();
    efs.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({
      AccessPoints: [{ AccessPointId: ACCESS_POINT_ID, ClientToken: 'hp-dev-c1-acme', RootDirectory: { Path: '/tenants/bravo' }, LifeCycleState: 'available' }],
    });

    await expect(compute().ensureService(spec)).rejects.toMatchObject({ name: ErrorNames.permanent, message: expect.stringContaining('/tenants/bravo') });
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 0);
  });

  it('finds an existing Cloud Map service by name when ServiceAlreadyExists does not carry its ARN', async () => {
    freshTenant();
    cloudMap.on(CreateDiscoveryServiceCommand).rejects(new ServiceAlreadyExists({ message: 'Service already exists', ...meta }));
    cloudMap
      .on(ListDiscoveryServicesCommand)
      .resolvesOnce({ Services: [{ Id: 'srv-other', Arn: 'arn:other', Name: 'bravo' }], NextToken: 'more' })
      .resolves({ Services: [{ Id: DISCOVERY.id, Arn: DISCOVERY.arn, Name: 'acme' }] });

    await compute().ensureService(spec);

    expect(cloudMap).toHaveReceivedCommandWith(ListDiscoveryServicesCommand, { NextToken: 'more' });
    expect(ecs).toHaveReceivedCommandWith(CreateEcsServiceCommand, { serviceRegistries: [{ registryArn: DISCOVERY.arn, containerName: 'app', containerPort: 8080 }] });
  });

  it('waits for an access point that EFS does not list yet', async () => {
    freshTenant();
    efs
      .on(DescribeAccessPointsCommand, { AccessPointId: ACCESS_POINT_ID })
      .rejectsOnce(new AccessPointNotFound({ message: 'not found', ErrorCode: 'AccessPointNotFound', ...meta }))
      .resolvesOnce({ AccessPoints: [{ AccessPointId: ACCESS_POINT_ID, LifeCycleState: 'creating' }] })
      .resolves({ AccessPoints: [{ AccessPointId: ACCESS_POINT_ID, LifeCycleState: 'available' }] });

    await compute().ensureService(spec);

    expect(efs).toHaveReceivedCommandWith(DescribeAccessPointsCommand, { AccessPointId: ACCESS_POINT_ID });
    expect(efs.commandCalls(DescribeAccessPointsCommand, { AccessPointId: ACCESS_POINT_ID })).toHaveLength(3);
  });

  it('moves an existing service to a changed task definition with UpdateService', async () => {
    freshTenant();
    ecs.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: { taskDefinitionArn: TASK_DEF_1, status: 'ACTIVE' },
      tags: [{ key: 'hostplane:spec-hash', value: 'an-older-spec' }],
    });
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TASK_DEF_2 } });
    ecs.on(UpdateServiceCommand).resolves({});
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [ecsService({})] })
      .resolvesOnce({
        services: [
          ecsService({
            taskDefinition: TASK_DEF_2,
            deployments: [
              { status: 'PRIMARY', taskDefinition: TASK_DEF_2, rolloutState: 'IN_PROGRESS' },
              { status: 'ACTIVE', taskDefinition: TASK_DEF_1, rolloutState: 'COMPLETED' },
            ],
          }),
        ],
      })
      .resolves({ services: [ecsService({ taskDefinition: TASK_DEF_2, deployments: [{ status: 'PRIMARY', taskDefinition: TASK_DEF_2, rolloutState: 'COMPLETED' }] })] });

    await compute().ensureService(spec);

    expect(ecs).toHaveReceivedCommandWith(UpdateServiceCommand, { cluster: CLUSTER, service: 'hp-dev-c1-acme', taskDefinition: TASK_DEF_2, desiredCount: 1 });
    expect(ecs.commandCalls(UpdateServiceCommand)[0]?.args[0].input.serviceRegistries).toBeUndefined();
    expect(ecs).toHaveReceivedCommandTimes(CreateEcsServiceCommand, 0);
  });

  it('re-creates a service that is INACTIVE', async () => {
    freshTenant();
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [ecsService({ status: 'INACTIVE', desiredCount: 0, runningCount: 0 })] })
      .resolves({ services: [ecsService({})] });

    await compute().ensureService(spec);

    expect(ecs).toHaveReceivedCommandTimes(CreateEcsServiceCommand, 1);
    expect(ecs).toHaveReceivedCommandTimes(UpdateServiceCommand, 0);
  });

  it('waits for a DRAINING service to go, then re-creates it', async () => {
    freshTenant();
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [ecsService({ status: 'DRAINING', desiredCount: 0 })] })
      .resolvesOnce({ services: [ecsService({ status: 'DRAINING', desiredCount: 0 })] })
      .resolvesOnce(missing)
      .resolves({ services: [ecsService({})] });

    await compute().ensureService(spec);

    expect(ecs).toHaveReceivedCommandTimes(CreateEcsServiceCommand, 1);
    expect(sleeps).toEqual([1_000]);
  });

  it('adopts a service that a concurrent run created first (ECS: "Creation of service was not idempotent")', async () => {
    freshTenant();
    ecs.on(CreateEcsServiceCommand).rejects(new InvalidParameterException({ message: 'Creation of service was not idempotent.', ...meta }));
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [ecsService({})] });

    await expect(compute().ensureService(spec)).resolves.toMatchObject({ running: true });
    expect(ecs).toHaveReceivedCommandTimes(UpdateServiceCommand, 0);
  });

  it('fails for good when the deployment circuit breaker rolled the new task definition back', async () => {
    freshTenant();
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce(missing)
      .resolves({
        services: [
          ecsService({
            runningCount: 0,
            deployments: [{ status: 'PRIMARY', taskDefinition: TASK_DEF_1, rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' }],
          }),
        ],
      });

    await expect(compute().ensureService(spec)).rejects.toMatchObject({
      name: ErrorNames.permanent,
      message: expect.stringContaining('circuit breaker'),
    });
  });

  it('gives up with a TransientError once the wait passes its deadline', async () => {
    freshTenant();
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce(missing)
      .resolves({ services: [ecsService({ runningCount: 0, deployments: [{ status: 'PRIMARY', taskDefinition: TASK_DEF_1, rolloutState: 'IN_PROGRESS' }] })] });

    await expect(compute({ waitTimeoutMs: 20_000 }).ensureService(spec)).rejects.toMatchObject({
      name: ErrorNames.transient,
      message: expect.stringContaining('timed out after 20000 ms'),
    });
    expect(sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(20_000);
  });

  it('ends a wait for capacity before the function times out, as a TransientError naming what ECS said', async () => {
    freshTenant();
    const unplaced = 'service hp-dev-c1-acme was unable to place a task because no container instance met all of its requirements.';
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce(missing)
      .resolves({
        services: [
          ecsService({ runningCount: 0, events: [{ message: unplaced }], deployments: [{ status: 'PRIMARY', taskDefinition: TASK_DEF_1, rolloutState: 'IN_PROGRESS' }] }),
        ],
      });

    await expect(compute({ waitTimeoutMs: undefined }).ensureService(spec)).rejects.toMatchObject({
      name: ErrorNames.transient,
      message: expect.stringContaining(`(ECS said: ${unplaced})`),
    });
    // The whole call, not only the last wait, stays within the budget, under the Task's timeout (the function's too).
    const provision = JSON.parse(readFileSync(new URL('../../statemachines/provision.asl.json', import.meta.url), 'utf8')) as {
      States: Record<string, { TimeoutSeconds?: number }>;
    };
    expect(DEFAULT_WAIT_TIMEOUT_MS).toBeLessThanOrEqual((provision.States['StartTenantCompute']!.TimeoutSeconds! - 30) * 1000);
    expect(sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(DEFAULT_WAIT_TIMEOUT_MS);
  });

  it('turns ECS throttling into a TransientError', async () => {
    freshTenant();
    ecs.on(CreateEcsServiceCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));

    await expect(compute().ensureService(spec)).rejects.toMatchObject({
      name: ErrorNames.transient,
      message: expect.stringContaining('creating ECS service hp-dev-c1-acme: ThrottlingException'),
    });
  });

  it('turns IAM throttling into a TransientError before anything depends on the role', async () => {
    freshTenant();
    iam.on(CreateRoleCommand).rejects(awsError('Throttling', 'Rate exceeded'));

    await expect(compute().ensureService(spec)).rejects.toMatchObject({ name: ErrorNames.transient });
    expect(cloudMap).toHaveReceivedCommandTimes(CreateDiscoveryServiceCommand, 0);
  });

  it('treats ECS refusing a task role created moments ago as transient (IAM is eventually consistent)', async () => {
    freshTenant();
    ecs.on(RegisterTaskDefinitionCommand).rejects(new ClientException({ message: 'ECS was unable to assume the role', ...meta }));

    await expect(compute().ensureService(spec)).rejects.toMatchObject({ name: ErrorNames.transient });
  });

  it('refuses a spec whose service name is not its tenant\'s', async () => {
    await expect(compute().ensureService({ ...spec, tenantId: 'bravo' })).rejects.toMatchObject({ name: ErrorNames.validation });
    await expect(compute().ensureService({ ...spec, appFilesFolder: '../tenants/bravo' })).rejects.toMatchObject({ name: ErrorNames.validation });
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 0);
  });
});

describe('EcsCompute.removeService', () => {
  it('scales the service to zero, deletes it, waits for it to go, then removes every other part', async () => {
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [ecsService({})] })
      .resolvesOnce({ services: [ecsService({ status: 'DRAINING', desiredCount: 0 })] })
      .resolves({ services: [ecsService({ status: 'INACTIVE', desiredCount: 0, runningCount: 0 })] });
    ecs.on(UpdateServiceCommand).resolves({});
    ecs.on(DeleteEcsServiceCommand).resolves({});
    ecs
      .on(ListTaskDefinitionsCommand)
      .resolvesOnce({ taskDefinitionArns: [TASK_DEF_1, `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/hp-dev-c1-acme-two:1`], nextToken: 'page-2' })
      .resolves({ taskDefinitionArns: [TASK_DEF_2] });
    ecs.on(DeregisterTaskDefinitionCommand).resolves({});
    cloudMap.on(ListDiscoveryServicesCommand).resolves({ Services: [{ Id: 'srv-other', Name: 'bravo' }, { Id: DISCOVERY.id, Arn: DISCOVERY.arn, Name: 'acme' }] });
    cloudMap.on(DeleteDiscoveryServiceCommand).resolves({});
    iam.on(DeleteRolePolicyCommand).resolves({});
    iam.on(DeleteRoleCommand).resolves({});
    efs.on(DescribeAccessPointsCommand).resolves({ AccessPoints: [{ AccessPointId: ACCESS_POINT_ID, ClientToken: 'hp-dev-c1-acme', LifeCycleState: 'available' }] });
    efs.on(DeleteAccessPointCommand).resolves({});

    await expect(compute().removeService('hp-dev-c1-acme')).resolves.toBe(true);

    expect(ecs).toHaveReceivedNthSpecificCommandWith(1, UpdateServiceCommand, { cluster: CLUSTER, service: 'hp-dev-c1-acme', desiredCount: 0 });
    expect(ecs).toHaveReceivedCommandWith(DeleteEcsServiceCommand, { cluster: CLUSTER, service: 'hp-dev-c1-acme', force: true });
    expect(ecs).toHaveReceivedCommandWith(ListTaskDefinitionsCommand, { familyPrefix: 'hp-dev-c1-acme', status: 'ACTIVE' });
    expect(ecs).toHaveReceivedCommandTimes(DeregisterTaskDefinitionCommand, 2);
    expect(ecs).toHaveReceivedCommandWith(DeregisterTaskDefinitionCommand, { taskDefinition: TASK_DEF_1 });
    expect(ecs).toHaveReceivedCommandWith(DeregisterTaskDefinitionCommand, { taskDefinition: TASK_DEF_2 });
    expect(cloudMap).toHaveReceivedCommandWith(ListDiscoveryServicesCommand, { Filters: [{ Name: 'NAMESPACE_ID', Values: [NAMESPACE.id], Condition: 'EQ' }] });
    expect(cloudMap).toHaveReceivedCommandWith(DeleteDiscoveryServiceCommand, { Id: DISCOVERY.id });
    expect(cloudMap).toHaveReceivedCommandTimes(DeleteDiscoveryServiceCommand, 1);
    expect(iam).toHaveReceivedCommandWith(DeleteRolePolicyCommand, { RoleName: 'hp-dev-c1-acme-task', PolicyName: 'tenant-access' });
    expect(iam).toHaveReceivedCommandWith(DeleteRoleCommand, { RoleName: 'hp-dev-c1-acme-task' });
    expect(efs).toHaveReceivedCommandWith(DeleteAccessPointCommand, { AccessPointId: ACCESS_POINT_ID });
    expect(sleeps).toEqual([1_000]);
  });

  it('removes what a half-made tenant has (only its role) and succeeds', async () => {
    ecs.on(DescribeServicesCommand).resolves(missing);
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [] });
    cloudMap.on(ListDiscoveryServicesCommand).resolves({ Services: [{ Id: 'srv-other', Name: 'bravo' }] });
    iam.on(DeleteRolePolicyCommand).rejects(new NoSuchEntityException({ message: 'The role policy with name tenant-access cannot be found.', ...meta }));
    iam.on(DeleteRoleCommand).resolves({});
    efs.on(DescribeAccessPointsCommand).resolves({ AccessPoints: [] });

    await expect(compute().removeService('hp-dev-c1-acme')).resolves.toBe(true);

    expect(iam).toHaveReceivedCommandWith(DeleteRoleCommand, { RoleName: 'hp-dev-c1-acme-task' });
    expect(ecs).toHaveReceivedCommandTimes(UpdateServiceCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(DeleteEcsServiceCommand, 0);
    expect(cloudMap).toHaveReceivedCommandTimes(DeleteDiscoveryServiceCommand, 0);
    expect(efs).toHaveReceivedCommandTimes(DeleteAccessPointCommand, 0);
  });

  it('says false when nothing of the tenant exists', async () => {
    ecs.on(DescribeServicesCommand).resolves(missing);
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [] });
    cloudMap.on(ListDiscoveryServicesCommand).resolves({ Services: [] });
    iam.on(DeleteRolePolicyCommand).rejects(new NoSuchEntityException({ message: 'no such role', ...meta }));
    iam.on(DeleteRoleCommand).rejects(new NoSuchEntityException({ message: 'no such role', ...meta }));
    efs.on(DescribeAccessPointsCommand).resolves({ AccessPoints: [] });

    await expect(compute().removeService('hp-dev-c1-acme')).resolves.toBe(false);
  });

  it('reports a Cloud Map service still in use as transient, having removed the other parts', async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [ecsService({ status: 'INACTIVE' })] });
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [] });
    cloudMap.on(ListDiscoveryServicesCommand).resolves({ Services: [{ Id: DISCOVERY.id, Name: 'acme' }] });
    cloudMap.on(DeleteDiscoveryServiceCommand).rejects(new ResourceInUse({ message: 'Service contains registered instances', ...meta }));
    iam.on(DeleteRolePolicyCommand).resolves({});
    iam.on(DeleteRoleCommand).resolves({});
    efs.on(DescribeAccessPointsCommand).resolves({ AccessPoints: [{ AccessPointId: ACCESS_POINT_ID, ClientToken: 'hp-dev-c1-acme' }] });
    efs.on(DeleteAccessPointCommand).resolves({});

    await expect(compute().removeService('hp-dev-c1-acme')).rejects.toMatchObject({
      name: ErrorNames.transient,
      message: expect.stringContaining('still has instances registered'),
    });
    expect(iam).toHaveReceivedCommandTimes(DeleteRoleCommand, 1);
    expect(efs).toHaveReceivedCommandTimes(DeleteAccessPointCommand, 1);
  });

  it('carries on when the service is already being deleted by someone else', async () => {
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [ecsService({})] })
      .resolves(missing);
    ecs.on(UpdateServiceCommand).rejects(awsError('ServiceNotActiveException', 'Service was not ACTIVE.'));
    ecs.on(DeleteEcsServiceCommand).rejects(awsError('ServiceNotFoundException', 'Service not found.'));
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [] });
    cloudMap.on(ListDiscoveryServicesCommand).resolves({ Services: [] });
    iam.on(DeleteRolePolicyCommand).rejects(new NoSuchEntityException({ message: 'gone', ...meta }));
    iam.on(DeleteRoleCommand).rejects(new NoSuchEntityException({ message: 'gone', ...meta }));
    efs.on(DescribeAccessPointsCommand).resolves({ AccessPoints: [] });

    await expect(compute().removeService('hp-dev-c1-acme')).resolves.toBe(true);
  });
});

describe('EcsCompute.describeService and listServices', () => {
  it('describes a running service with its SRV name, and a missing one as undefined', async () => {
    ecs.on(DescribeServicesCommand).resolvesOnce({ services: [ecsService({})] }).resolves(missing);

    await expect(compute().describeService('hp-dev-c1-acme')).resolves.toEqual({
      serviceName: 'hp-dev-c1-acme',
      running: true,
      endpoint: 'acme.c1.hostplane.internal',
    });
    await expect(compute().describeService('hp-dev-c1-acme')).resolves.toBeUndefined();
  });

  it('lists this environment\'s ACTIVE tenant services, describing them ten at a time', async () => {
    const tenants = Array.from({ length: 12 }, (_, i) => `hp-dev-c1-tenant${String(i).padStart(2, '0')}`);
    const arn = (name: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${CLUSTER}/${name}`;
    ecs
      .on(ListEcsServicesCommand)
      .resolvesOnce({ serviceArns: [...tenants.slice(0, 7).map(arn), arn('hp-edge-caddy'), arn('hp-prod-c1-acme')], nextToken: 'next' })
      .resolves({ serviceArns: tenants.slice(7).map(arn) });
    ecs.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => ({
      services: input.services.map((name) => ecsService({ serviceName: name, status: name.endsWith('05') ? 'DRAINING' : 'ACTIVE' })),
    }));

    const names = await compute().listServices();

    expect(names).toEqual(tenants.filter((name) => !name.endsWith('05')));
    expect(ecs).toHaveReceivedCommandTimes(ListEcsServicesCommand, 2);
    expect(ecs).toHaveReceivedCommandWith(ListEcsServicesCommand, { cluster: CLUSTER, nextToken: 'next' });
    expect(ecs).toHaveReceivedNthSpecificCommandWith(1, DescribeServicesCommand, { cluster: CLUSTER, services: tenants.slice(0, 10) });
    expect(ecs).toHaveReceivedNthSpecificCommandWith(2, DescribeServicesCommand, { cluster: CLUSTER, services: tenants.slice(10) });
  });
});
