import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { FileSystem as LambdaFileSystem } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CLOUD_VARIABLES, type CloudVariable } from '../../cloud/cloud-environment.js';
import type { GrantedPort } from '../../cloud/cloud-ports.js';
import { FUNCTIONS, type FunctionName } from '../../lambdas/functions.js';
import { WORKFLOW_NAMES, type WorkflowName } from '../../lambdas/ports/workflows.js';
import { FUNCTION_ACCESS, runsInVpc, type AccessKind } from '../function-access.js';
import { HostplaneFunction } from '../hostplane-function.js';
import { allow, arnIn, type ControlPlaneCell } from './cell-access.js';

/** The cloud ports a function's bundle installs for its access (`databaseServer` is a way of the registry's sql port). */
export function grantedPorts(access: readonly AccessKind[]): GrantedPort[] {
  return access.filter((kind): kind is Exclude<AccessKind, 'databaseServer'> => kind !== 'databaseServer');
}

/** Where every function that uses app files mounts the cell's EFS (through the admin access point). */
export const APP_FILES_MOUNT = '/mnt/hostplane';

/** Beside the bundle of edge functions: the CloudFront functions' sources, which dedicated distributions are given. */
const EDGE_FUNCTIONS_FOLDER = 'cloudfront';

export interface EdgeSettings {
  /** `tenant`: a distribution tenant of the cell's multi-tenant distribution; `dedicated`: a distribution per tenant. */
  readonly mode: 'tenant' | 'dedicated';
  /** Tenants are served at `<tenant>.<domain>`. */
  readonly domain: string;
  readonly hostedZoneId: string;
  /** A us-east-1 certificate for `*.<domain>` (dedicated distributions need one). */
  readonly certificateArn?: string;
}

export interface ControlPlaneFunctionsProps {
  readonly environment: string;
  readonly cell: ControlPlaneCell;
  /** Most tenants the cell admits, and the limits behind that number (named in a refusal). */
  readonly placement: { readonly maxTenants: number; readonly limits: Readonly<Record<string, number>> };
  readonly edge: EdgeSettings;
  readonly backupBucket: IBucket;
  /** Function → the longest Task TimeoutSeconds that waits for it. */
  readonly taskTimeouts: ReadonlyMap<FunctionName, number>;
  /** The state machines' names (their ARNs are derived from them, so functions and machines need not reference each other). */
  readonly stateMachineNames: Readonly<Record<WorkflowName, string>>;
  /** @default 90 */
  readonly healthWaitSeconds?: number;
  /** @default 30 */
  readonly backupRetentionDays?: number;
}

/**
 * One Lambda per entry of `FUNCTIONS`, each given exactly the access `FUNCTION_ACCESS` lists: the
 * registry through the Data API for all; for the rest, their IAM actions on this environment's
 * resources only, the environment variables the cloud composition root reads for those ports
 * (`cloud/cloud-environment.ts`), and a place in the cell's VPC with the EFS mount when they need it.
 */
export class ControlPlaneFunctions extends Construct {
  public readonly functions: Readonly<Record<FunctionName, HostplaneFunction>>;

  constructor(scope: Construct, id: string, private readonly props: ControlPlaneFunctionsProps) {
    super(scope, id);
    const entries = (Object.keys(FUNCTIONS) as FunctionName[]).map((name) => [name, this.createFunction(name)] as const);
    this.functions = Object.fromEntries(entries) as Record<FunctionName, HostplaneFunction>;
  }

  /** ARN of one of our state machines, from its name. */
  stateMachineArn(workflow: WorkflowName): string {
    return arnIn(this, 'states', 'stateMachine', this.props.stateMachineNames[workflow], { sep: ArnFormat.COLON_RESOURCE_NAME });
  }

  private createFunction(name: FunctionName): HostplaneFunction {
    const { cell } = this.props;
    const access = FUNCTION_ACCESS[name];
    const seconds = this.props.taskTimeouts.get(name);
    const inVpc = runsInVpc(access);
    const fn = new HostplaneFunction(this, name, {
      entry: FUNCTIONS[name],
      ports: grantedPorts(access),
      // A Lambda must not stop before the Task state that waits for it.
      timeout: seconds === undefined ? undefined : Duration.seconds(seconds),
      // Compiling a release runs esbuild in the function: give it the CPU that comes with memory.
      memorySize: name === 'Compile' ? 2048 : undefined,
      environment: this.environmentFor(access),
      vpc: inVpc ? cell.vpc : undefined,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [cell.controlPlaneSecurityGroup],
      filesystem: access.includes('appFiles') ? LambdaFileSystem.fromEfsAccessPoint(cell.adminAccessPoint, APP_FILES_MOUNT) : undefined,
      copyFolders: access.includes('edge') ? [{ from: 'runtime/edge/cloudfront', to: EDGE_FUNCTIONS_FOLDER }] : undefined,
    });
    cell.database.cluster.grantDataApiAccess(fn);
    for (const kind of access) this.grant(fn, kind);
    return fn;
  }

  /** The environment variables the cloud composition root reads for the ports of `access` (and the registry's, always). */
  environmentFor(access: readonly AccessKind[]): Record<string, string> {
    const { cell, environment } = this.props;
    const stack = Stack.of(this);
    const variables: Partial<Record<CloudVariable, string>> = {
      environment,
      cells: JSON.stringify([{ cell: cell.cell, maxTenants: this.props.placement.maxTenants, limits: this.props.placement.limits }]),
      accountId: stack.account,
      databaseClusterArn: cell.database.clusterArn,
      databaseSecretArn: cell.database.adminSecret.secretArn,
      healthWaitSeconds: String(this.props.healthWaitSeconds ?? 90),
      backupRetentionDays: String(this.props.backupRetentionDays ?? 30),
    };
    const add = (more: Partial<Record<CloudVariable, string>>) => Object.assign(variables, more);
    for (const kind of access) {
      switch (kind) {
        case 'databaseServer':
          add({
            databaseServerStatements: 'pg',
            databaseHost: cell.database.cluster.clusterEndpoint.hostname,
            databasePort: String(cell.database.cluster.clusterEndpoint.port),
          });
          break;
        case 'cacheUsers':
          add({ cacheUserGroupId: cell.cache.userGroupId, cacheHost: cell.cache.endpoint.host, cachePort: String(cell.cache.endpoint.port) });
          break;
        case 'notices':
          add({ cacheHost: cell.cache.endpoint.host, cachePort: String(cell.cache.endpoint.port), cacheNoticesSecretArn: cell.cache.controlPlaneSecret.secretArn });
          break;
        case 'compute':
          add({
            cluster: cell.cluster.clusterName,
            capacityProvider: cell.capacityProviderName,
            namespaceId: cell.namespace.namespaceId,
            namespaceName: cell.namespace.namespaceName,
            fileSystemId: cell.fileSystem.fileSystemId,
            tenantSubnets: cell.vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS }).subnetIds.join(','),
            tenantSecurityGroup: cell.tenantSecurityGroup.securityGroupId,
            tenantImage: cell.tenantImage.imageUri,
            tenantExecutionRoleArn: cell.tenantExecutionRole.roleArn,
            tenantLogGroup: cell.tenantLogGroup.logGroupName,
          });
          break;
        case 'appFiles':
          add({ appFilesMount: APP_FILES_MOUNT });
          break;
        case 'edge':
          add({
            edgeMode: this.props.edge.mode,
            domain: this.props.edge.domain,
            hostedZoneId: this.props.edge.hostedZoneId,
            multiTenantDistributionId: cell.multiTenantDistribution?.distributionId,
            loadBalancerDnsName: cell.originDomainName,
            originSecretArn: cell.originSecret.secretArn,
            edgeCertificateArn: this.props.edge.certificateArn,
            edgeFunctionsDir: `/var/task/${EDGE_FUNCTIONS_FOLDER}`,
          });
          break;
        case 'workflows':
          add({
            provisionStateMachineArn: this.stateMachineArn('provision'),
            deployStateMachineArn: this.stateMachineArn('deploy'),
            deprovisionStateMachineArn: this.stateMachineArn('deprovision'),
          });
          break;
        case 'backups':
          add({ backupBucket: this.props.backupBucket.bucketName });
          break;
        case 'secrets':
          break;
      }
    }
    const result: Record<string, string> = {};
    for (const [variable, value] of Object.entries(variables) as [CloudVariable, string | undefined][]) {
      if (value !== undefined) result[CLOUD_VARIABLES[variable]] = value;
    }
    if (access.includes('databaseServer')) {
      // Node 20+ Lambda runtimes ship the RDS CA bundle but do not load it unless told to.
      result['NODE_EXTRA_CA_CERTS'] = '/var/runtime/ca-cert.pem';
    }
    return result;
  }

  /** Gives `grantee` (a function's role, a job's task role) one kind of access: its IAM, nothing else. */
  grant(fn: IGrantable, kind: AccessKind): void {
    const { cell, environment } = this.props;
    switch (kind) {
      case 'databaseServer':
        cell.database.adminSecret.grantRead(fn);
        return;
      case 'secrets':
        fn.grantPrincipal.addToPrincipalPolicy(
          allow(
            ['secretsmanager:GetSecretValue', 'secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret',
              'secretsmanager:RestoreSecret', 'secretsmanager:DescribeSecret', 'secretsmanager:TagResource'],
            [arnIn(this, 'secretsmanager', 'secret', `hostplane/${environment}/*`, { sep: ArnFormat.COLON_RESOURCE_NAME })],
          ),
        );
        // ListSecrets has no resource-level permission.
        fn.grantPrincipal.addToPrincipalPolicy(allow(['secretsmanager:ListSecrets'], ['*']));
        return;
      case 'cacheUsers':
        fn.grantPrincipal.addToPrincipalPolicy(
          allow(
            ['elasticache:CreateUser', 'elasticache:ModifyUser', 'elasticache:DeleteUser', 'elasticache:DescribeUsers', 'elasticache:AddTagsToResource'],
            [arnIn(this, 'elasticache', 'user', `hp-${environment}-*`, { sep: ArnFormat.COLON_RESOURCE_NAME })],
          ),
        );
        fn.grantPrincipal.addToPrincipalPolicy(
          allow(
            ['elasticache:ModifyUserGroup', 'elasticache:DescribeUserGroups'],
            [arnIn(this, 'elasticache', 'usergroup', cell.cache.userGroupId, { sep: ArnFormat.COLON_RESOURCE_NAME })],
          ),
        );
        // DescribeUsers and DescribeUserGroups list across the account when no id is given.
        fn.grantPrincipal.addToPrincipalPolicy(allow(['elasticache:DescribeUsers', 'elasticache:DescribeUserGroups'], ['*']));
        return;
      case 'compute':
        this.grantCompute(fn);
        return;
      case 'appFiles':
        // The EFS mount (ClientMount/ClientWrite through the admin access point) is granted with `filesystem`.
        return;
      case 'edge':
        this.grantEdge(fn);
        return;
      case 'workflows':
        fn.grantPrincipal.addToPrincipalPolicy(allow(['states:StartExecution'], WORKFLOW_NAMES.map((workflow) => this.stateMachineArn(workflow))));
        fn.grantPrincipal.addToPrincipalPolicy(
          allow(
            ['states:DescribeExecution'],
            WORKFLOW_NAMES.map((workflow) => arnIn(this, 'states', 'execution', `${this.props.stateMachineNames[workflow]}:*`, { sep: ArnFormat.COLON_RESOURCE_NAME })),
          ),
        );
        return;
      case 'notices':
        cell.cache.controlPlaneSecret.grantRead(fn);
        return;
      case 'backups':
        this.props.backupBucket.grantReadWrite(fn);
        this.props.backupBucket.grantDelete(fn);
        return;
    }
  }

  private grantCompute(fn: IGrantable): void {
    const { cell, environment } = this.props;
    // Tenant task roles live under their own IAM path, so this grant reaches no other role.
    const tenantRoles = arnIn(this, 'iam', 'role', `hostplane/${environment}/*`, { region: '' });
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(
        ['ecs:CreateService', 'ecs:UpdateService', 'ecs:DeleteService', 'ecs:DescribeServices', 'ecs:TagResource'],
        [arnIn(this, 'ecs', 'service', `${cell.cluster.clusterName}/hp-${environment}-*`)],
      ),
    );
    fn.grantPrincipal.addToPrincipalPolicy(allow(['ecs:ListServices'], [cell.cluster.clusterArn]));
    // A task definition names a secret by its full ARN (with Secrets Manager's suffix): the adapter looks it up.
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(['secretsmanager:DescribeSecret'], [arnIn(this, 'secretsmanager', 'secret', `hostplane/${environment}/*`, { sep: ArnFormat.COLON_RESOURCE_NAME })]),
    );
    // Task definitions are registered and listed by family: ECS offers no resource-level permission for these.
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(['ecs:RegisterTaskDefinition', 'ecs:DeregisterTaskDefinition', 'ecs:ListTaskDefinitions', 'ecs:DescribeTaskDefinition', 'ecs:TagResource'], ['*']),
    );
    // A tenant's Cloud Map service is created in the cell's namespace only; once made, it is reached by its ARN.
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(['servicediscovery:CreateService', 'servicediscovery:TagResource'], ['*'], { StringEquals: { 'servicediscovery:NamespaceArn': cell.namespace.namespaceArn } }),
    );
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(['servicediscovery:GetService', 'servicediscovery:DeleteService', 'servicediscovery:ListInstances'], [arnIn(this, 'servicediscovery', 'service', '*')]),
    );
    fn.grantPrincipal.addToPrincipalPolicy(allow(['servicediscovery:ListServices', 'servicediscovery:GetOperation'], ['*']));
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(
        ['elasticfilesystem:CreateAccessPoint', 'elasticfilesystem:DeleteAccessPoint', 'elasticfilesystem:DescribeAccessPoints', 'elasticfilesystem:TagResource'],
        [cell.fileSystem.fileSystemArn, arnIn(this, 'elasticfilesystem', 'access-point', '*')],
      ),
    );
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(
        ['iam:CreateRole', 'iam:GetRole', 'iam:DeleteRole', 'iam:PutRolePolicy', 'iam:GetRolePolicy', 'iam:DeleteRolePolicy', 'iam:ListRolePolicies', 'iam:TagRole'],
        [tenantRoles],
      ),
    );
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(['iam:PassRole'], [tenantRoles, cell.tenantExecutionRole.roleArn], { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }),
    );
  }

  private grantEdge(fn: IGrantable): void {
    const { cell, environment, edge } = this.props;
    const buckets = `arn:${Stack.of(this).partition}:s3:::hp-${environment}-*`;
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(
        ['s3:CreateBucket', 's3:DeleteBucket', 's3:ListBucket', 's3:ListBucketVersions', 's3:PutBucketPolicy', 's3:PutBucketPublicAccessBlock', 's3:PutEncryptionConfiguration',
          's3:PutBucketOwnershipControls', 's3:PutBucketTagging', 's3:GetBucketTagging', 's3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:GetObject'],
        [buckets, `${buckets}/*`],
      ),
    );
    fn.grantPrincipal.addToPrincipalPolicy(allow(['s3:ListAllMyBuckets'], ['*']));
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(
        ['cloudfront:CreateDistributionTenant', 'cloudfront:GetConnectionGroup', 'cloudfront:UpdateDistributionTenant', 'cloudfront:GetDistributionTenant', 'cloudfront:GetDistributionTenantByDomain',
          'cloudfront:DeleteDistributionTenant', 'cloudfront:ListDistributionTenants', 'cloudfront:ListDistributionTenantsByCustomization',
          'cloudfront:CreateDistribution', 'cloudfront:CreateDistributionWithTags', 'cloudfront:GetDistribution', 'cloudfront:GetDistributionConfig',
          'cloudfront:UpdateDistribution', 'cloudfront:DeleteDistribution', 'cloudfront:ListDistributions', 'cloudfront:TagResource', 'cloudfront:ListTagsForResource',
          'cloudfront:CreateFunction', 'cloudfront:PublishFunction', 'cloudfront:DescribeFunction', 'cloudfront:UpdateFunction', 'cloudfront:DeleteFunction', 'cloudfront:ListFunctions',
          'cloudfront:CreateOriginAccessControl', 'cloudfront:GetOriginAccessControl', 'cloudfront:DeleteOriginAccessControl', 'cloudfront:ListOriginAccessControls'],
        ['*'],
      ),
    );
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(['route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets'], [`arn:${Stack.of(this).partition}:route53:::hostedzone/${edge.hostedZoneId}`]),
    );
    fn.grantPrincipal.addToPrincipalPolicy(allow(['route53:GetChange'], [`arn:${Stack.of(this).partition}:route53:::change/*`]));
    fn.grantPrincipal.addToPrincipalPolicy(allow(['acm:RequestCertificate', 'acm:DescribeCertificate', 'acm:DeleteCertificate', 'acm:AddTagsToCertificate'], ['*']));
    cell.originSecret.grantRead(fn);
  }
}
