import { randomBytes } from 'node:crypto';
import { CreateClusterCommand, ECSClient, RegisterTaskDefinitionCommand, type RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateAccessPointCommand, CreateFileSystemCommand, EFSClient } from '@aws-sdk/client-efs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreatePrivateDnsNamespaceCommand, GetOperationCommand, ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { AssemblyStack, TemplateResource } from './cloud-assembly.js';
import { resolveIntrinsics, resolveString, type AccountLocation, type PhysicalResource, type StackResolution } from './intrinsics.js';

/** What stands in for the pieces of AWS that moto does not serve: the real servers the rehearsal started. */
export interface StandInServers {
  readonly motoEndpoint: string;
  readonly database: { readonly host: string; readonly port: number; readonly adminUser: string; readonly adminPassword: string };
  readonly cache: { readonly host: string; readonly port: number };
}

export interface DeployedStack {
  readonly stack: AssemblyStack;
  readonly resolution: StackResolution;
}

/** What was created for one resource type, or `undefined` to give it a placeholder id (nothing of it is exercised). */
type Deployer = (logicalId: string, resource: TemplateResource, context: DeployContext) => Promise<PhysicalResource | undefined>;

interface DeployContext {
  readonly resolution: StackResolution;
  readonly clients: AwsClients;
  readonly servers: StandInServers;
  readonly location: AccountLocation;
  readonly stackName: string;
}

interface AwsClients {
  readonly ec2: EC2Client;
  readonly ecs: ECSClient;
  readonly efs: EFSClient;
  readonly s3: S3Client;
  readonly secrets: SecretsManagerClient;
  readonly serviceDiscovery: ServiceDiscoveryClient;
}

/**
 * The empty account the rehearsal deploys into: each stack's resources are created in moto where a
 * function reads or calls them (cluster, namespace, file system and access points, secrets, buckets,
 * the job's task definition), pointed at the real stand-in servers where they are data stores (the
 * database cluster, the cache), and given a placeholder physical id otherwise (networking, IAM,
 * logs, the API: nothing of them runs here). Then the stack's exports are resolved for the next.
 */
export class StandInAccount {
  private readonly exports = new Map<string, string>();
  private readonly clients: AwsClients;

  constructor(
    readonly location: AccountLocation,
    private readonly servers: StandInServers,
  ) {
    const config = { endpoint: servers.motoEndpoint, region: location.region, credentials: { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' } };
    this.clients = {
      ec2: new EC2Client(config),
      ecs: new ECSClient(config),
      efs: new EFSClient(config),
      s3: new S3Client({ ...config, forcePathStyle: true }),
      secrets: new SecretsManagerClient(config),
      serviceDiscovery: new ServiceDiscoveryClient(config),
    };
  }

  async deploy(stack: AssemblyStack): Promise<DeployedStack> {
    const resources = new Map<string, PhysicalResource>();
    const resolution: StackResolution = { stackName: stack.stackName, location: this.location, resources, exports: this.exports };
    const context: DeployContext = { resolution, clients: this.clients, servers: this.servers, location: this.location, stackName: stack.stackName };
    const entries = Object.entries(stack.template.Resources);
    // Placeholders first (so any resource may name another), then the real ones in dependency-friendly order.
    for (const [logicalId, resource] of entries) resources.set(logicalId, placeholder(logicalId, resource, context));
    for (const type of DEPLOY_ORDER) {
      for (const [logicalId, resource] of entries.filter(([, candidate]) => candidate.Type === type)) {
        const created = await DEPLOYERS[type]!(logicalId, resource, context);
        if (created) resources.set(logicalId, created);
      }
    }
    for (const output of Object.values(stack.template.Outputs ?? {})) {
      if (output.Export) this.exports.set(resolveString(output.Export.Name, resolution), resolveString(output.Value, resolution));
    }
    return { stack, resolution };
  }

  close(): void {
    Object.values(this.clients).forEach((client: { destroy(): void }) => client.destroy());
  }
}

const arn = (context: DeployContext, service: string, resource: string) =>
  `arn:${context.location.partition}:${service}:${context.location.region}:${context.location.accountId}:${resource}`;

/** A physical id for a resource nothing here creates, with the attributes templates read of such resources. */
function placeholder(logicalId: string, resource: TemplateResource, context: DeployContext): PhysicalResource {
  const properties = resource.Properties ?? {};
  const named = (key: string) => (typeof properties[key] === 'string' ? (properties[key] as string) : undefined);
  const generated = `${context.stackName}-${logicalId}`.slice(0, 64);
  switch (resource.Type) {
    case 'AWS::Lambda::Function': {
      const name = named('FunctionName') ?? generated;
      return { ref: name, attributes: { Arn: arn(context, 'lambda', `function:${name}`) } };
    }
    case 'AWS::StepFunctions::StateMachine': {
      const name = named('StateMachineName') ?? generated;
      const machineArn = arn(context, 'states', `stateMachine:${name}`);
      return { ref: machineArn, attributes: { Arn: machineArn, Name: name } };
    }
    case 'AWS::IAM::Role': {
      const name = named('RoleName') ?? generated;
      return { ref: name, attributes: { Arn: `arn:${context.location.partition}:iam::${context.location.accountId}:role/${name}`, RoleId: `AROA${logicalId.toUpperCase()}` } };
    }
    case 'AWS::IAM::ManagedPolicy': {
      const name = named('ManagedPolicyName') ?? generated;
      const policyArn = `arn:${context.location.partition}:iam::${context.location.accountId}:policy/${name}`;
      return { ref: policyArn, attributes: { PolicyArn: policyArn } };
    }
    case 'AWS::Logs::LogGroup': {
      const name = named('LogGroupName') ?? `/rehearsal/${generated}`;
      return { ref: name, attributes: { Arn: arn(context, 'logs', `log-group:${name}:*`) } };
    }
    case 'AWS::EC2::SecurityGroup':
      return { ref: `sg-${hex(logicalId)}`, attributes: { GroupId: `sg-${hex(logicalId)}` } };
    case 'AWS::EC2::Subnet':
      return { ref: `subnet-${hex(logicalId)}` };
    case 'AWS::EC2::VPC':
      return { ref: `vpc-${hex(logicalId)}`, attributes: { CidrBlock: '10.0.0.0/16' } };
    case 'AWS::ECS::CapacityProvider':
      return { ref: generated };
    case 'AWS::CloudFront::Distribution':
      return { ref: `E${hex(logicalId).toUpperCase()}`, attributes: { DomainName: `d${hex(logicalId)}.cloudfront.net`, Id: `E${hex(logicalId).toUpperCase()}` } };
    case 'AWS::CloudFront::Function':
      return { ref: generated, attributes: { FunctionARN: `arn:${context.location.partition}:cloudfront::${context.location.accountId}:function/${generated}` } };
    case 'AWS::ElasticLoadBalancingV2::LoadBalancer':
      return { ref: arn(context, 'elasticloadbalancing', `loadbalancer/app/${logicalId}`), attributes: { DNSName: `${logicalId.toLowerCase()}.elb.rehearsal` } };
    default:
      return { ref: generated, attributes: { Arn: arn(context, resource.Type.split('::')[1]!.toLowerCase(), generated) } };
  }
}

function hex(text: string): string {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash.toString(16).padStart(8, '0') + '0000000000'.slice(0, 9);
}

function properties(resource: TemplateResource, context: DeployContext): Record<string, unknown> {
  return resolveIntrinsics(resource.Properties ?? {}, context.resolution) as Record<string, unknown>;
}

/** A secret's generated value, as GenerateSecretString would make it. */
function generatedSecret(generate: Record<string, unknown>): string {
  const password = randomBytes(24).toString('hex').slice(0, Number(generate.PasswordLength ?? 32));
  if (typeof generate.SecretStringTemplate === 'string' && typeof generate.GenerateStringKey === 'string') {
    return JSON.stringify({ ...(JSON.parse(generate.SecretStringTemplate) as object), [generate.GenerateStringKey]: password });
  }
  return password;
}

const DEPLOYERS: Record<string, Deployer> = {
  // The network exists in moto because ECS checks the subnets and security groups a service names.
  async 'AWS::EC2::VPC'(_logicalId, resource, context) {
    const props = properties(resource, context);
    const { Vpc } = await context.clients.ec2.send(new CreateVpcCommand({ CidrBlock: String(props.CidrBlock ?? '10.0.0.0/16') }));
    return { ref: Vpc!.VpcId!, attributes: { VpcId: Vpc!.VpcId!, CidrBlock: Vpc!.CidrBlock! } };
  },
  async 'AWS::EC2::Subnet'(_logicalId, resource, context) {
    const props = properties(resource, context);
    const { Subnet } = await context.clients.ec2.send(
      new CreateSubnetCommand({ VpcId: String(props.VpcId), CidrBlock: String(props.CidrBlock), AvailabilityZone: props.AvailabilityZone as string | undefined }),
    );
    return { ref: Subnet!.SubnetId!, attributes: { SubnetId: Subnet!.SubnetId!, AvailabilityZone: Subnet!.AvailabilityZone! } };
  },
  async 'AWS::EC2::SecurityGroup'(logicalId, resource, context) {
    const props = properties(resource, context);
    const { GroupId } = await context.clients.ec2.send(
      new CreateSecurityGroupCommand({ GroupName: `${context.stackName}-${logicalId}`, Description: String(props.GroupDescription ?? logicalId), VpcId: props.VpcId as string | undefined }),
    );
    return { ref: GroupId!, attributes: { GroupId: GroupId!, VpcId: String(props.VpcId ?? '') } };
  },
  async 'AWS::SecretsManager::Secret'(logicalId, resource, context) {
    const props = properties(resource, context);
    const name = typeof props.Name === 'string' ? props.Name : `${context.stackName}-${logicalId}`;
    let value = typeof props.SecretString === 'string' ? props.SecretString : generatedSecret((props.GenerateSecretString ?? {}) as Record<string, unknown>);
    // The database cluster's admin secret holds the stand-in database's real admin login.
    const parsed = safeJson(value);
    if (parsed && parsed.username === context.servers.database.adminUser) value = JSON.stringify({ ...parsed, password: context.servers.database.adminPassword });
    const created = await context.clients.secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return { ref: created.ARN!, attributes: { Id: created.ARN! } };
  },
  async 'AWS::RDS::DBCluster'(logicalId, resource, context) {
    const props = properties(resource, context);
    const { host, port } = context.servers.database;
    return { ref: String(props.DBClusterIdentifier ?? logicalId.toLowerCase()), attributes: { 'Endpoint.Address': host, 'Endpoint.Port': String(port), 'ReadEndpoint.Address': host } };
  },
  async 'AWS::SecretsManager::SecretTargetAttachment'(_logicalId, resource, context) {
    // CloudFormation adds the cluster's connection facts to the secret; its Ref is the secret's ARN.
    const props = properties(resource, context);
    const secretId = String(props.SecretId);
    const current = safeJson((await context.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}') ?? {};
    const { host, port } = context.servers.database;
    await context.clients.secrets.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ ...current, engine: 'postgres', host, port, dbClusterIdentifier: String(props.TargetId) }) }),
    );
    return { ref: secretId };
  },
  async 'AWS::ElastiCache::ReplicationGroup'(logicalId, resource, context) {
    const props = properties(resource, context);
    const { host, port } = context.servers.cache;
    const address = { 'PrimaryEndPoint.Address': host, 'PrimaryEndPoint.Port': String(port), 'ConfigurationEndPoint.Address': host, 'ConfigurationEndPoint.Port': String(port) };
    return { ref: String(props.ReplicationGroupId ?? logicalId.toLowerCase()), attributes: address };
  },
  async 'AWS::ElastiCache::User'(_logicalId, resource, context) {
    const props = properties(resource, context);
    return { ref: String(props.UserId), attributes: { Arn: arn(context, 'elasticache', `user:${String(props.UserId)}`) } };
  },
  async 'AWS::ElastiCache::UserGroup'(_logicalId, resource, context) {
    const props = properties(resource, context);
    return { ref: String(props.UserGroupId), attributes: { Arn: arn(context, 'elasticache', `usergroup:${String(props.UserGroupId)}`) } };
  },
  async 'AWS::ECS::Cluster'(logicalId, resource, context) {
    const props = properties(resource, context);
    const created = await context.clients.ecs.send(new CreateClusterCommand({ clusterName: String(props.ClusterName ?? `${context.stackName}-${logicalId}`) }));
    return { ref: created.cluster!.clusterName!, attributes: { Arn: created.cluster!.clusterArn! } };
  },
  async 'AWS::EFS::FileSystem'(_logicalId, _resource, context) {
    const created = await context.clients.efs.send(new CreateFileSystemCommand({ CreationToken: randomBytes(8).toString('hex'), Encrypted: true }));
    return { ref: created.FileSystemId!, attributes: { Arn: created.FileSystemArn!, FileSystemId: created.FileSystemId! } };
  },
  async 'AWS::EFS::AccessPoint'(_logicalId, resource, context) {
    const props = properties(resource, context);
    const created = await context.clients.efs.send(
      new CreateAccessPointCommand({
        ClientToken: randomBytes(8).toString('hex'),
        FileSystemId: String(props.FileSystemId),
        PosixUser: numbers(props.PosixUser) as never,
        RootDirectory: props.RootDirectory as never,
      }),
    );
    return { ref: created.AccessPointId!, attributes: { Arn: created.AccessPointArn!, AccessPointId: created.AccessPointId! } };
  },
  async 'AWS::ServiceDiscovery::PrivateDnsNamespace'(_logicalId, resource, context) {
    const props = properties(resource, context);
    const { OperationId } = await context.clients.serviceDiscovery.send(new CreatePrivateDnsNamespaceCommand({ Name: String(props.Name), Vpc: String(props.Vpc) }));
    const { Operation } = await context.clients.serviceDiscovery.send(new GetOperationCommand({ OperationId }));
    const id = Operation?.Targets?.NAMESPACE;
    if (!id) throw new Error(`moto created no namespace ${String(props.Name)}`);
    return { ref: id, attributes: { Id: id, Arn: arn(context, 'servicediscovery', `namespace/${id}`) } };
  },
  async 'AWS::S3::Bucket'(logicalId, resource, context) {
    const props = properties(resource, context);
    const name = typeof props.BucketName === 'string' ? props.BucketName : `${context.stackName}-${logicalId}`.toLowerCase().slice(0, 55) + '-' + randomBytes(3).toString('hex');
    await context.clients.s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: context.location.region as never } }));
    return {
      ref: name,
      attributes: { Arn: `arn:${context.location.partition}:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com`, RegionalDomainName: `${name}.s3.${context.location.region}.amazonaws.com` },
    };
  },
  async 'AWS::ECS::TaskDefinition'(logicalId, resource, context) {
    const props = properties(resource, context);
    const input = lowerKeys(props) as RegisterTaskDefinitionCommandInput;
    const registered = await context.clients.ecs.send(
      new RegisterTaskDefinitionCommand({ ...input, family: input.family ?? `${context.stackName}-${logicalId}`.replace(/[^A-Za-z0-9_-]/g, '') }),
    );
    const taskDefinitionArn = registered.taskDefinition!.taskDefinitionArn!;
    return { ref: taskDefinitionArn, attributes: { TaskDefinitionArn: taskDefinitionArn } };
  },
};

/** The types created for real, in an order where each one's references already exist. */
const DEPLOY_ORDER = Object.keys(DEPLOYERS);

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function numbers(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, /^\d+$/.test(String(item)) ? Number(item) : item]));
}

/** CloudFormation's `ContainerDefinitions` → the ECS API's `containerDefinitions`, all the way down. */
function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key.charAt(0).toLowerCase() + key.slice(1), key === 'Options' ? item : lowerKeys(item)]));
}
