import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EFSClient } from '@aws-sdk/client-efs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { resourcesOfType, stackNamed, type CloudAssembly } from './cloud-assembly.js';
import { buildContainerImage } from './container-images.js';
import { matchesPattern, readDeployedStack, type DeployedControlPlane } from './deployed-control-plane.js';
import { EcsAgent } from './ecs-agent.js';
import { jobRunner } from './job-runner.js';
import { startAwsGapsServer, type AwsGapsServer } from './emulators/aws-gaps-server.js';
import { startDataApiServer, type DataApiServer } from './emulators/data-api-server.js';
import { startElastiCacheUsersServer, type ElastiCacheUser, type ElastiCacheUsersServer } from './emulators/elasticache-users-server.js';
import { startMotoServer, type MotoServer } from './emulators/moto-server.js';
import { createTestCertificates, type TestCertificates } from './emulators/test-certificates.js';
import { startTlsPostgres, type TlsPostgres } from './emulators/tls-postgres.js';
import { startTlsRedis, type TlsRedis } from './emulators/tls-redis.js';
import { resolveIntrinsics, type AccountLocation } from './intrinsics.js';
import { LambdaService, type LambdaFunction } from './lambda/lambda-service.js';
import { StandInAccount, type DeployedStack } from './stand-in-account.js';
import { startStepFunctionsEndpoint } from './step-functions/step-functions-endpoint.js';
import { StepFunctionsService, type Execution } from './step-functions/step-functions-service.js';

export const REHEARSAL_LOCATION: AccountLocation = { accountId: '123456789012', region: 'eu-west-1', partition: 'aws', urlSuffix: 'amazonaws.com' };

const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'rehearsal', AWS_SECRET_ACCESS_KEY: 'rehearsal', AWS_SESSION_TOKEN: 'rehearsal' };

/** Everything the rehearsal started, to be stopped in reverse order whatever happens. */
export interface RehearsalWorld {
  readonly assembly: CloudAssembly;
  readonly moto: MotoServer;
  readonly postgres: TlsPostgres;
  readonly redis: TlsRedis;
  readonly dataApi: DataApiServer;
  readonly elastiCache: ElastiCacheUsersServer;
  /** S3, CloudFront and Route 53 over HTTPS, moto behind them with what it lacks filled in. */
  readonly awsGaps: AwsGapsServer;
  readonly cell: DeployedStack;
  readonly controlPlane: DeployedControlPlane;
  readonly lambdas: LambdaService;
  readonly stepFunctions: StepFunctionsService;
  readonly agent: EcsAgent;
  /** The folder standing in for the cell's EFS file system. */
  readonly fileSystemDir: string;
  readonly certificates: TestCertificates;
  readonly clients: { readonly ecs: ECSClient; readonly efs: EFSClient; readonly secrets: SecretsManagerClient; readonly serviceDiscovery: ServiceDiscoveryClient };
  /** Custom resources CloudFormation ran at deploy, with what they answered. */
  readonly customResources: readonly { logicalId: string; type: string; ms: number; response: unknown }[];
}

type Stopper = () => Promise<void> | void;

/**
 * Stands up the "account" a synthesized app deploys into, then deploys it: the servers first
 * (moto, a TLS PostgreSQL and a TLS Redis sharing a throwaway CA, the Data API and ElastiCache
 * stand-ins over them, Step Functions), then each stack's resources, the functions as sandboxes of
 * their assets, the ECS agent running the tenant image's entrypoint, and the stack's custom
 * resources invoked as CloudFormation would. `stoppers` collects what to stop, in order of start.
 */
export async function deployRehearsalWorld(assembly: CloudAssembly, workDir: string, stoppers: Stopper[], progress: (line: string) => void): Promise<RehearsalWorld> {
  const started = <T>(value: T, stop: Stopper): T => {
    stoppers.push(stop);
    return value;
  };
  const certificates: TestCertificates = await createTestCertificates();
  stoppers.push(() => certificates.remove());
  // moto reports an ECS service's task as running and its deployment COMPLETED; the agent runs the task for real.
  process.env.MOTO_ECS_SERVICE_RUNNING = '1';
  const [moto, postgres, redis] = await Promise.all([
    startMotoServer().then((server) => started(server, () => server.stop())),
    startTlsPostgres({ certificates }).then((server) => started(server, () => server.stop())),
    startTlsRedis({ certificates }).then((server) => started(server, () => server.stop())),
  ]);
  progress(`moto ${moto.endpoint}, PostgreSQL (TLS) 127.0.0.1:${postgres.port}, Redis (TLS) 127.0.0.1:${redis.port}`);

  const account: StandInAccount = new StandInAccount(REHEARSAL_LOCATION, {
    motoEndpoint: moto.endpoint,
    database: { host: postgres.host, port: postgres.port, adminUser: postgres.adminUser, adminPassword: postgres.adminPassword },
    cache: { host: redis.host, port: redis.port },
  });
  stoppers.push(() => account.close());
  const clientConfig = { endpoint: moto.endpoint, region: REHEARSAL_LOCATION.region, credentials: { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' } };
  const clients = {
    ecs: new ECSClient(clientConfig),
    efs: new EFSClient(clientConfig),
    secrets: new SecretsManagerClient(clientConfig),
    serviceDiscovery: new ServiceDiscoveryClient(clientConfig),
  };
  stoppers.push(() => Object.values(clients).forEach((client) => client.destroy()));

  const cellStack = stackNamed(assembly, (name) => name.includes('-Cell-'), 'cell');
  const controlPlaneStack = stackNamed(assembly, (name) => name.endsWith('-ControlPlane'), 'control plane');
  const cell = await account.deploy(cellStack);
  progress(`deployed ${cellStack.stackName}: ${Object.keys(cellStack.template.Resources).length} resources`);

  const readSecret = async (secretId: string) => (await clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '';
  const redisAdmin = new Redis(redis.adminUrl, { tls: { ca: readFileSync(redis.caFile) }, lazyConnect: true, maxRetriesPerRequest: 2 });
  await redisAdmin.connect();
  stoppers.push(() => void redisAdmin.disconnect());
  const elastiCache = await startElastiCacheUsersServer({
    redis: redisAdmin,
    users: await stackCacheUsers(cell, readSecret),
    userGroups: Object.fromEntries(
      resourcesOfType(cellStack, 'AWS::ElastiCache::UserGroup').map(([, resource]) => {
        const props = resolveIntrinsics(resource.Properties, cell.resolution) as { UserGroupId: string; UserIds: string[] };
        return [props.UserGroupId, props.UserIds];
      }),
    ),
  });
  stoppers.push(() => elastiCache.stop());

  const dataApi = await startDataApiServer({
    host: postgres.host,
    port: postgres.port,
    ssl: { ca: readFileSync(postgres.caFile, 'utf8') },
    resolveSecret: async (secretArn) => {
      const login = JSON.parse(await readSecret(secretArn)) as { username?: string; password?: string };
      if (!login.username || !login.password) throw new Error(`secret ${secretArn} holds no username and password`);
      return { username: login.username, password: login.password };
    },
  });
  stoppers.push(() => dataApi.stop());

  const controlPlaneDeployed = await account.deploy(controlPlaneStack);
  const controlPlane = readDeployedStack(controlPlaneDeployed, assembly.dir);
  progress(`deployed ${controlPlaneStack.stackName}: ${controlPlane.functions.length} functions, ${controlPlane.stateMachines.length} state machines, ${controlPlane.apiRoutes.length} API routes`);

  // The tenants' DNS zone, made in moto; calls naming the configured zone id are sent to it.
  const edgeSettings = controlPlane.functions.find((fn) => fn.environment.HOSTPLANE_HOSTED_ZONE_ID)?.environment;
  const hostedZoneIds: Record<string, string> = {};
  if (edgeSettings?.HOSTPLANE_HOSTED_ZONE_ID && edgeSettings.HOSTPLANE_DOMAIN) {
    const route53 = new Route53Client({ ...clientConfig, region: 'us-east-1' });
    const { HostedZone } = await route53.send(new CreateHostedZoneCommand({ Name: edgeSettings.HOSTPLANE_DOMAIN, CallerReference: crypto.randomUUID() }));
    route53.destroy();
    hostedZoneIds[edgeSettings.HOSTPLANE_HOSTED_ZONE_ID] = HostedZone!.Id!.replace('/hostedzone/', '');
  }
  const awsGaps = await startAwsGapsServer({ motoEndpoint: moto.endpoint, accountId: REHEARSAL_LOCATION.accountId, hostedZoneIds, certificates });
  stoppers.push(() => awsGaps.stop());

  const fileSystemDir = join(workDir, 'efs');
  mkdirSync(fileSystemDir, { recursive: true });
  const accessPointRoots = await accessPointRootsOf(cell, clients.efs);

  let stepFunctionsEndpoint = '';
  const lambdas = new LambdaService(controlPlane.functions, {
    logDir: join(workDir, 'logs', 'lambda'),
    sandboxEnvironment: {
      ...CREDENTIALS,
      AWS_REGION: REHEARSAL_LOCATION.region,
      AWS_DEFAULT_REGION: REHEARSAL_LOCATION.region,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ENDPOINT_URL_RDS_DATA: dataApi.endpoint,
      AWS_ENDPOINT_URL_ELASTICACHE: elastiCache.endpoint,
      // The stand-ins' certificates are signed by the throwaway CA, as the services' by one Lambda trusts.
      NODE_EXTRA_CA_CERTS: certificates.caFile,
      AWS_ENDPOINT_URL_S3: awsGaps.endpoint,
      AWS_ENDPOINT_URL_CLOUDFRONT: awsGaps.endpoint,
      AWS_ENDPOINT_URL_ROUTE_53: awsGaps.endpoint,
      get AWS_ENDPOINT_URL_SFN() {
        return stepFunctionsEndpoint;
      },
    },
    environmentOverrides: (fn) => lambdaMachineOverrides(fn, controlPlaneDeployed, accessPointRoots, fileSystemDir, postgres.caFile, redis.port),
  });
  stoppers.push(() => lambdas.stop());

  const jobImage = await buildContainerImage(process.cwd(), 'runtime/jobs/Dockerfile', join(workDir, 'images', 'jobs'));
  const tenantImage = await buildContainerImage(process.cwd(), 'runtime/reloader/Dockerfile', join(workDir, 'images', 'reloader'));
  progress(`built the container entrypoints (${jobImage.dockerfile}, ${tenantImage.dockerfile}) with their Dockerfiles' esbuild commands`);

  const stepFunctions = new StepFunctionsService({
    machines: controlPlane.stateMachines,
    invokeFunction: (arn, payload) => lambdas.invoke(arn, payload),
    runTaskSync: jobRunner({
      ecs: clients.ecs,
      image: jobImage,
      logDir: join(workDir, 'logs', 'jobs'),
      machineEnvironment: () => ({
        ...CREDENTIALS,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_ENDPOINT_URL_RDS_DATA: dataApi.endpoint,
        AWS_ENDPOINT_URL_ELASTICACHE: elastiCache.endpoint,
        AWS_ENDPOINT_URL_SFN: stepFunctionsEndpoint,
        AWS_ENDPOINT_URL_S3: awsGaps.endpoint,
        AWS_ENDPOINT_URL_CLOUDFRONT: awsGaps.endpoint,
        AWS_ENDPOINT_URL_ROUTE_53: awsGaps.endpoint,
        NODE_EXTRA_CA_CERTS: postgres.caFile,
      }),
    }),
    onExecutionEnded: (execution) => deliverExecutionEnded(execution, controlPlane, lambdas),
  });
  stoppers.push(() => stepFunctions.stop());
  const sfnEndpoint = await startStepFunctionsEndpoint(stepFunctions);
  stepFunctionsEndpoint = sfnEndpoint.endpoint;
  stoppers.push(() => sfnEndpoint.stop());

  const cluster = String(cell.resolution.resources.get(resourcesOfType(cellStack, 'AWS::ECS::Cluster')[0]![0])!.ref);
  const agent = new EcsAgent({
    ...clients,
    secretsManager: clients.secrets,
    cluster,
    image: tenantImage,
    fileSystemDir,
    machineEnvironment: { NODE_EXTRA_CA_CERTS: postgres.caFile },
    logDir: join(workDir, 'logs', 'tasks'),
  });
  agent.start();
  stoppers.push(() => agent.stop());

  const customResources: { logicalId: string; type: string; ms: number; response: unknown }[] = [];
  for (const resource of controlPlane.customResources) {
    const userHandler = providerUserHandler(resource.serviceToken, controlPlane.functions);
    if (!userHandler) continue; // CDK's own (BucketDeployment): it copies the console's files, nothing of ours runs
    const startedAt = performance.now();
    const response = await lambdas.invoke(userHandler.arn, {
      RequestType: 'Create',
      ServiceToken: resource.serviceToken,
      ResponseURL: 'http://127.0.0.1:9/unused',
      StackId: `arn:aws:cloudformation:${REHEARSAL_LOCATION.region}:${REHEARSAL_LOCATION.accountId}:stack/${controlPlaneStack.stackName}/rehearsal`,
      RequestId: crypto.randomUUID(),
      LogicalResourceId: resource.logicalId,
      ResourceType: resource.type,
      ResourceProperties: resource.properties,
    });
    customResources.push({ logicalId: resource.logicalId, type: resource.type, ms: performance.now() - startedAt, response });
    progress(`custom resource ${resource.logicalId} (${resource.type}) created through ${userHandler.functionName}`);
  }

  return {
    assembly,
    moto,
    postgres,
    redis,
    dataApi,
    elastiCache,
    awsGaps,
    cell,
    controlPlane,
    lambdas,
    stepFunctions,
    agent,
    fileSystemDir,
    certificates,
    clients,
    customResources,
  };
}

/**
 * The paths and ports of Lambda's machine, mapped to this one's: the EFS mount (`LocalMountPath`,
 * `/mnt/…`) to the access point's root under the stand-in file system, `/var/task` to the asset
 * folder, Lambda's CA bundle (`/var/runtime/ca-cert.pem`, which holds the RDS CAs) to the throwaway
 * CA, and every cache's port in HOSTPLANE_CACHES (the template's constant 6379) to the stand-in's
 * (every replication group is the one TLS Redis here).
 */
function lambdaMachineOverrides(
  fn: LambdaFunction,
  controlPlane: DeployedStack,
  accessPointRoots: ReadonlyMap<string, string>,
  fileSystemDir: string,
  caFile: string,
  cachePort: number,
): Record<string, string> {
  const resource = controlPlane.stack.template.Resources[fn.logicalId];
  const mounts = (resolveIntrinsics(resource?.Properties?.FileSystemConfigs ?? [], controlPlane.resolution) as { Arn: string; LocalMountPath: string }[]).map(
    (mount) => ({ from: mount.LocalMountPath, to: join(fileSystemDir, accessPointRoots.get(mount.Arn) ?? '/') }),
  );
  const overrides: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    const mount = mounts.find((candidate) => value === candidate.from || value.startsWith(`${candidate.from}/`));
    if (mount) overrides[name] = mount.to + value.slice(mount.from.length);
    else if (value === '/var/task' || value.startsWith('/var/task/')) overrides[name] = fn.assetDir + value.slice('/var/task'.length);
    else if (value === '/var/runtime/ca-cert.pem') overrides[name] = caFile;
  }
  if (fn.environment.HOSTPLANE_CACHES) {
    const caches = JSON.parse(fn.environment.HOSTPLANE_CACHES) as Record<string, unknown>[];
    overrides.HOSTPLANE_CACHES = JSON.stringify(caches.map((cache) => ({ ...cache, port: cachePort })));
  }
  return overrides;
}

async function accessPointRootsOf(cell: DeployedStack, efs: EFSClient): Promise<Map<string, string>> {
  const { DescribeAccessPointsCommand } = await import('@aws-sdk/client-efs');
  const roots = new Map<string, string>();
  for (const [logicalId] of resourcesOfType(cell.stack, 'AWS::EFS::AccessPoint')) {
    const id = cell.resolution.resources.get(logicalId)!.ref;
    const { AccessPoints } = await efs.send(new DescribeAccessPointsCommand({ AccessPointId: id }));
    const accessPoint = AccessPoints?.[0];
    if (accessPoint?.AccessPointArn) roots.set(accessPoint.AccessPointArn, accessPoint.RootDirectory?.Path ?? '/');
  }
  return roots;
}

/** The stack's ElastiCache users, their passwords' dynamic references (`{{resolve:secretsmanager:…}}`) read as CloudFormation would. */
async function stackCacheUsers(cell: DeployedStack, readSecret: (id: string) => Promise<string>): Promise<ElastiCacheUser[]> {
  const users: ElastiCacheUser[] = [];
  for (const [, resource] of resourcesOfType(cell.stack, 'AWS::ElastiCache::User')) {
    const props = resolveIntrinsics(resource.Properties, cell.resolution) as { UserId: string; UserName: string; AccessString: string; Engine: string; Passwords?: string[] };
    const passwords: string[] = [];
    for (const password of props.Passwords ?? []) {
      const reference = /^\{\{resolve:secretsmanager:(.+):SecretString:([^:]*)::\}\}$/.exec(password);
      if (!reference) {
        passwords.push(password);
        continue;
      }
      const secret = await readSecret(reference[1]!);
      passwords.push(reference[2] ? String((JSON.parse(secret) as Record<string, unknown>)[reference[2]]) : secret);
    }
    users.push({ userId: props.UserId, userName: props.UserName, accessString: props.AccessString, passwords, engine: props.Engine });
  }
  return users;
}

/** CDK's Provider framework: its onEvent Lambda invokes the user's handler, named in its environment. */
function providerUserHandler(serviceToken: string, functions: readonly LambdaFunction[]): LambdaFunction | undefined {
  const framework = functions.find((fn) => fn.arn === serviceToken);
  const userArn = framework?.environment.USER_ON_EVENT_FUNCTION_ARN;
  return userArn ? functions.find((fn) => fn.arn === userArn) : undefined;
}

/** EventBridge: "Step Functions Execution Status Change" matched against the template's rules, their Lambda targets invoked asynchronously. */
function deliverExecutionEnded(execution: Execution, controlPlane: DeployedControlPlane, lambdas: LambdaService): void {
  const event = {
    version: '0',
    id: crypto.randomUUID(),
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    account: REHEARSAL_LOCATION.accountId,
    region: REHEARSAL_LOCATION.region,
    time: new Date().toISOString(),
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: execution.stopDate?.getTime() ?? null,
      input: execution.input,
      output: execution.output ?? null,
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
  for (const rule of controlPlane.eventRules) {
    if (rule.pattern && matchesPattern(rule.pattern, event)) rule.targetArns.forEach((arn) => lambdas.invokeAsync(arn, event));
  }
}
