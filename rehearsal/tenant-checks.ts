import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { DescribeAccessPointsCommand } from '@aws-sdk/client-efs';
import { ListHostedZonesCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { ListServicesCommand as ListDiscoveryServicesCommand } from '@aws-sdk/client-servicediscovery';
import pg from 'pg';
import type { TenantResourceNames } from '../lambdas/domain/naming.js';
import { resourcesOfType } from './cloud-assembly.js';
import type { RehearsalWorld } from './rehearsal-world.js';

export type Check = (ok: boolean, what: string) => void;

function s3(world: RehearsalWorld): S3Client {
  return new S3Client({ endpoint: world.moto.endpoint, region: 'eu-west-1', forcePathStyle: true, credentials: { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' } });
}

function cluster(world: RehearsalWorld): string {
  const [logicalId] = resourcesOfType(world.cell.stack, 'AWS::ECS::Cluster')[0]!;
  return world.cell.resolution.resources.get(logicalId)!.ref;
}

function namespaceId(world: RehearsalWorld): string {
  const [logicalId] = resourcesOfType(world.cell.stack, 'AWS::ServiceDiscovery::PrivateDnsNamespace')[0]!;
  return world.cell.resolution.resources.get(logicalId)!.ref;
}

async function secretJson(world: RehearsalWorld, name: string): Promise<Record<string, string> | undefined> {
  try {
    const { SecretString } = await world.clients.secrets.send(new GetSecretValueCommand({ SecretId: name }));
    return JSON.parse(SecretString ?? '{}') as Record<string, string>;
  } catch {
    return undefined;
  }
}

/** The tenant's folder on the stand-in file system (the control plane's access point is its root). */
function tenantFolder(world: RehearsalWorld, names: TenantResourceNames): string {
  return join(world.fileSystemDir, names.appFilesFolder);
}

/** Polls `condition` until it holds or `ms` pass; says whether it held. */
async function within(ms: number, condition: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function domainOf(world: RehearsalWorld): string {
  return world.controlPlane.functions.find((fn) => fn.environment.HOSTPLANE_DOMAIN)?.environment.HOSTPLANE_DOMAIN ?? '';
}

/** The names of the records in the tenants' hosted zone (in moto). */
async function dnsRecords(world: RehearsalWorld): Promise<string[]> {
  const route53 = new Route53Client({ endpoint: world.moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' } });
  try {
    const { HostedZones } = await route53.send(new ListHostedZonesCommand({}));
    const names: string[] = [];
    for (const zone of HostedZones ?? []) {
      const { ResourceRecordSets } = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.Id }));
      names.push(...(ResourceRecordSets ?? []).map((record) => record.Name ?? ''));
    }
    return names;
  } finally {
    route53.destroy();
  }
}

/** What an operator would look at after a deploy: compute, secrets, the release on EFS, the front end in S3, the app answering. */
export async function checkAfterDeploy(world: RehearsalWorld, names: TenantResourceNames, check: Check): Promise<void> {
  const tenant = names.tenantId;
  const { services } = await world.clients.ecs.send(new DescribeServicesCommand({ cluster: cluster(world), services: [names.computeService] }));
  const service = services?.find((candidate) => candidate.serviceName === names.computeService);
  check(service?.status === 'ACTIVE', `${tenant}: ECS service ${names.computeService} is ACTIVE`);
  if (service?.taskDefinition) {
    const { taskDefinition } = await world.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }));
    const container = taskDefinition?.containerDefinitions?.[0];
    const variables = new Set((container?.environment ?? []).map((variable) => variable.name));
    const secrets = new Set((container?.secrets ?? []).map((secret) => secret.name));
    check(
      ['HOSTPLANE_TENANT_ID', 'HOSTPLANE_APP_DIR', 'PORT'].every((name) => variables.has(name)) && ['PGHOST', 'PGPASSWORD', 'PGSSLMODE', 'REDIS_URL'].every((name) => secrets.has(name)),
      `${tenant}: the task definition gives the reloader its environment (${[...variables].join(', ')}) and secrets (${[...secrets].join(', ')})`,
    );
    const accessPointId = taskDefinition?.volumes?.[0]?.efsVolumeConfiguration?.authorizationConfig?.accessPointId;
    const { AccessPoints } = accessPointId ? await world.clients.efs.send(new DescribeAccessPointsCommand({ AccessPointId: accessPointId })) : { AccessPoints: [] };
    check(AccessPoints?.[0]?.RootDirectory?.Path === `/${names.appFilesFolder}`, `${tenant}: its EFS access point's root is /${names.appFilesFolder}`);
  }
  const { Services } = await world.clients.serviceDiscovery.send(
    new ListDiscoveryServicesCommand({ Filters: [{ Name: 'NAMESPACE_ID', Values: [namespaceId(world)], Condition: 'EQ' }] }),
  );
  check((Services ?? []).some((candidate) => candidate.Name === tenant), `${tenant}: a Cloud Map service named ${tenant} is in the cell's namespace`);

  const front = world.awsGaps.tenants().find((candidate) => candidate.domains.includes(`${names.hostLabel}.${domainOf(world)}`));
  check(front !== undefined, `${tenant}: a distribution tenant serves ${names.hostLabel}.${domainOf(world)}`);
  const records = await dnsRecords(world);
  check(records.includes(`${names.hostLabel}.${domainOf(world)}.`), `${tenant}: its DNS record is in the hosted zone`);

  const database = await secretJson(world, names.databaseSecret);
  check(['require', 'verify-ca', 'verify-full'].includes(database?.sslmode ?? ''), `${tenant}: the database secret requires TLS (sslmode ${database?.sslmode ?? 'absent'})`);
  const cache = await secretJson(world, names.cacheSecret);
  check(cache?.url?.startsWith('rediss://') === true, `${tenant}: the cache secret holds a TLS URL (${cache?.url?.replace(/:[^:@]*@/, ':***@').slice(0, 60) ?? 'absent'})`);

  const folder = tenantFolder(world, names);
  const current = existsSync(join(folder, 'current')) ? readFileSync(join(folder, 'current'), 'utf8').trim() : undefined;
  check(current !== undefined && existsSync(join(folder, 'releases', current, 'server.mjs')), `${tenant}: release ${current ?? '(none)'} compiled by the Compile bundle is on the app-files file system`);

  const objects = await s3(world)
    .send(new ListObjectsV2Command({ Bucket: names.assetsBucket }))
    .then((listed) => (listed.Contents ?? []).map((object) => object.Key ?? ''))
    .catch((error: unknown) => [`(${String(error)})`]);
  check(objects.some((key) => key.endsWith('index.html')), `${tenant}: the front end is in its assets bucket (${objects.slice(0, 4).join(', ')}${objects.length > 4 ? ', …' : ''})`);

  const task = world.agent.running().find((candidate) => candidate.serviceName === names.computeService);
  const answer = task ? await fetch(`http://${task.endpoint}/api/book`).catch((error: unknown) => error) : undefined;
  check(answer instanceof Response && answer.status === 200, `${tenant}: its app answers GET /api/book through its task (${answer instanceof Response ? answer.status : String(answer)})`);
}

/** After deprovision: nothing of the tenant in any emulated service, by its names and tags. */
export async function checkNothingLeft(world: RehearsalWorld, names: TenantResourceNames, check: Check): Promise<void> {
  const tenant = names.tenantId;
  const { services } = await world.clients.ecs.send(new DescribeServicesCommand({ cluster: cluster(world), services: [names.computeService] }));
  check(!services?.some((service) => service.status === 'ACTIVE' || service.status === 'DRAINING'), `${tenant}: no ECS service left`);
  const { taskDefinitionArns } = await world.clients.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: names.computeService, status: 'ACTIVE' }));
  check((taskDefinitionArns ?? []).length === 0, `${tenant}: no ACTIVE task definition left (${(taskDefinitionArns ?? []).join(', ')})`);
  const { AccessPoints } = await world.clients.efs.send(new DescribeAccessPointsCommand({}));
  check(!(AccessPoints ?? []).some((point) => point.RootDirectory?.Path === `/${names.appFilesFolder}`), `${tenant}: no EFS access point left`);
  const { Services } = await world.clients.serviceDiscovery.send(new ListDiscoveryServicesCommand({}));
  check(!(Services ?? []).some((service) => service.Name === tenant), `${tenant}: no Cloud Map service left`);
  const { SecretList } = await world.clients.secrets.send(new ListSecretsCommand({ IncludePlannedDeletion: false }));
  const left = (SecretList ?? []).filter((secret) => secret.Name?.startsWith(names.databaseSecret.replace(/\/database$/, '/')));
  check(left.length === 0, `${tenant}: no secret left (${left.map((secret) => secret.Name).join(', ')})`);
  const bucketGone = await s3(world)
    .send(new HeadBucketCommand({ Bucket: names.assetsBucket }))
    .then(() => false)
    .catch(() => true);
  check(bucketGone, `${tenant}: no assets bucket left`);
  check(!world.elastiCache.users().some((user) => user.userName === names.cacheUser), `${tenant}: no cache user left`);
  // moto makes a deleted service INACTIVE at once, where ECS waits for its tasks to stop: the agent stops them on its next look.
  const taskGone = await within(30_000, async () => !world.agent.running().some((task) => task.serviceName === names.computeService));
  check(taskGone, `${tenant}: no task running (within 30 s of the service's removal)`);
  check(!existsSync(tenantFolder(world, names)), `${tenant}: no app files left`);
  check(!world.awsGaps.tenants().some((front) => front.domains.includes(`${names.hostLabel}.${domainOf(world)}`)), `${tenant}: no distribution tenant left`);
  check(!(await dnsRecords(world)).includes(`${names.hostLabel}.${domainOf(world)}.`), `${tenant}: no DNS record left`);
  const client = new pg.Client({
    host: world.postgres.host,
    port: world.postgres.port,
    user: world.postgres.adminUser,
    password: world.postgres.adminPassword,
    database: 'postgres',
    ssl: { ca: readFileSync(world.postgres.caFile, 'utf8') },
  });
  await client.connect();
  try {
    const databases = await client.query('SELECT datname FROM pg_database WHERE datname = $1', [names.database]);
    const roles = await client.query('SELECT rolname FROM pg_roles WHERE rolname = $1', [names.role]);
    check(databases.rowCount === 0 && roles.rowCount === 0, `${tenant}: no database or role left`);
  } finally {
    await client.end();
  }
}
