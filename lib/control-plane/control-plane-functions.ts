import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { FileSystem as LambdaFileSystem } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CLOUD_VARIABLES, type CloudVariable } from '../../cloud/cloud-environment.js';
import type { GrantedPort } from '../../cloud/cloud-ports.js';
import { API_ROUTES } from '../../lambdas/api/routes.js';
import { FUNCTIONS, type FunctionName } from '../../lambdas/functions.js';
import { WORKFLOW_NAMES, type WorkflowName } from '../../lambdas/ports/workflows.js';
import { FUNCTION_ACCESS, runsInVpc, type AccessKind } from '../function-access.js';
import { acknowledgeCfnLint, DEPENDS_ON_ITS_ROLE_REASON } from '../cfn-lint-acknowledgements.js';
import { HostplaneFunction, type HostplaneFunctionProps } from '../hostplane-function.js';
import { cellNames } from '../cell/cell-names.js';
import { TenantTaskBoundary } from './tenant-task-boundary.js';
import { allow, allowWithWildcards, arnIn, type ControlPlaneCell } from './cell-access.js';

/** The cloud ports a function's bundle installs for its access (`databaseServer` is a way of the registry's sql port). */
export function grantedPorts(access: readonly AccessKind[]): GrantedPort[] {
  return access.filter((kind): kind is Exclude<AccessKind, 'databaseServer'> => kind !== 'databaseServer');
}

/** The functions behind the REST API: their answers carry the console's CORS header. */
const API_FUNCTIONS: ReadonlySet<FunctionName> = new Set(API_ROUTES.map((route) => route.function));

/** Where every function that uses app files mounts the cell's EFS (through the admin access point). */
export const APP_FILES_MOUNT = '/mnt/hostplane';

/** Beside the bundle of edge functions: the CloudFront functions' sources, which dedicated distributions are given. */
const EDGE_FUNCTIONS_FOLDER = 'cloudfront';

/**
 * Compile runs esbuild-wasm (one package for every CPU: synth may run on x86_64, the function runs on
 * arm64) over pg and ioredis, all three shipped as files beside its bundle (`compile-app.ts` imports
 * them at run time). Measured with the Bookshop: the first compile in an execution environment takes
 * about 4 s on one x86_64 core (WebAssembly compiled in a child node), later ones 0.4-1 s; the child
 * peaks near 340 MB and the handler near 110 MB. 2048 MiB buys more than one full vCPU (Lambda gives
 * one at 1769 MiB), for a cold compile of a few seconds, well inside the Task's timeout.
 */
const COMPILER_PACKAGES = ['esbuild-wasm', 'pg', 'ioredis'] as const;
const COMPILE_MEMORY_MIB = 2048;

/**
 * What a function's asset is made of and the memory it runs with: the part of its props that does
 * not depend on the cell (the stack adds timeout, environment, network and mounts). Tests bundle a
 * function with this alone and run it.
 */
export function functionBuild(name: FunctionName): Pick<HostplaneFunctionProps, 'entry' | 'ports' | 'memorySize' | 'shippedPackages' | 'copyFolders'> {
  const access = FUNCTION_ACCESS[name];
  return {
    entry: FUNCTIONS[name],
    ports: grantedPorts(access),
    memorySize: name === 'Compile' ? COMPILE_MEMORY_MIB : undefined,
    shippedPackages: name === 'Compile' ? COMPILER_PACKAGES : undefined,
    copyFolders: access.includes('edge') ? [{ from: 'runtime/edge/cloudfront', to: EDGE_FUNCTIONS_FOLDER }] : undefined,
  };
}

const TENANT_SECRETS_REASON =
  "Tenant secrets are created at run time under hostplane/<environment>/<cell>/<tenant>; the cells' shared secrets live under another prefix.";

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
  readonly placement: { readonly maxTenants: number; readonly limits: Readonly<Record<string, number>>; readonly tenantsPerCache?: number };
  readonly edge: EdgeSettings;
  readonly backupBucket: IBucket;
  /** Function → the longest Task TimeoutSeconds that waits for it. */
  readonly taskTimeouts: ReadonlyMap<FunctionName, number>;
  /** The state machines' names (their ARNs are derived from them, so functions and machines need not reference each other). */
  readonly stateMachineNames: Readonly<Record<WorkflowName, string>>;
  /** The console's origin, which the API functions' answers allow (CORS). @default - none (same-origin) */
  readonly consoleOrigin?: string;
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
  /** The permissions boundary the compute functions must put on every tenant task role they create. */
  public readonly tenantTaskBoundary: TenantTaskBoundary;

  constructor(scope: Construct, id: string, private readonly props: ControlPlaneFunctionsProps) {
    super(scope, id);
    this.tenantTaskBoundary = new TenantTaskBoundary(this, 'TenantTaskBoundary', { environment: props.environment, cell: props.cell });
    const entries = (Object.keys(FUNCTIONS) as FunctionName[]).map((name) => [name, this.createFunction(name)] as const);
    this.functions = Object.fromEntries(entries) as Record<FunctionName, HostplaneFunction>;
  }

  /** Every tenant secret of this environment (Secrets Manager adds a suffix to a secret's name in its ARN). */
  private get tenantSecrets(): string {
    return arnIn(this, 'secretsmanager', 'secret', `hostplane/${this.props.environment}/*`, { sep: ArnFormat.COLON_RESOURCE_NAME });
  }

  /** `HOSTPLANE_CACHES`: every cache of the cell, in index order (`cloud/cloud-environment.ts`, `cachesVariable`), as JSON CloudFormation fills in. */
  private cachesVariable(): string {
    const caches = this.props.cell.caches.map((cache) => ({
      id: cache.id,
      userGroupId: cache.userGroupId,
      host: cache.endpoint.host,
      port: cache.endpoint.port,
      noticesSecretArn: cache.controlPlaneSecret.secretArn,
    }));
    return Stack.of(this).toJsonString(caches);
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
      ...functionBuild(name),
      // A Lambda must not stop before the Task state that waits for it.
      timeout: seconds === undefined ? undefined : Duration.seconds(seconds),
      environment: {
        ...this.environmentFor(access),
        ...(API_FUNCTIONS.has(name) && this.props.consoleOrigin ? { [CLOUD_VARIABLES.consoleOrigin]: this.props.consoleOrigin } : {}),
      },
      vpc: inVpc ? cell.vpc : undefined,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [cell.controlPlaneSecurityGroup],
      filesystem: access.includes('appFiles') ? LambdaFileSystem.fromEfsAccessPoint(cell.adminAccessPoint, APP_FILES_MOUNT) : undefined,
    });
    cell.database.cluster.grantDataApiAccess(fn);
    for (const kind of access) this.grant(fn, kind);
    acknowledgeCfnLint(fn, 'W3005', DEPENDS_ON_ITS_ROLE_REASON);
    return fn;
  }

  /** The environment variables the cloud composition root reads for the ports of `access` (and the registry's, always). */
  environmentFor(access: readonly AccessKind[]): Record<string, string> {
    const { cell, environment } = this.props;
    const stack = Stack.of(this);
    const variables: Partial<Record<CloudVariable, string>> = {
      environment,
      cells: JSON.stringify([
        { cell: cell.cell, maxTenants: this.props.placement.maxTenants, limits: this.props.placement.limits, caches: cell.caches.length, tenantsPerCache: this.props.placement.tenantsPerCache },
      ]),
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
        case 'notices':
          add({ caches: this.cachesVariable() });
          break;
        case 'compute':
          add({
            cluster: cell.cluster.clusterName,
            capacityProvider: cell.capacityProviderName,
            namespaceId: cell.namespace.namespaceId,
            namespaceName: cell.namespace.namespaceName,
            fileSystemId: cell.fileSystem.fileSystemId,
            tenantImage: cell.tenantImage.imageUri,
            tenantExecutionRoleArn: cell.tenantExecutionRole.roleArn,
            tenantPermissionsBoundaryArn: this.tenantTaskBoundary.policy.managedPolicyArn,
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
            backupStateMachineArn: this.stateMachineArn('backup'),
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
        allowWithWildcards(
          fn,
          allow(
            ['secretsmanager:GetSecretValue', 'secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret',
              'secretsmanager:RestoreSecret', 'secretsmanager:DescribeSecret', 'secretsmanager:TagResource'],
            [this.tenantSecrets],
          ),
          TENANT_SECRETS_REASON,
        );
        allowWithWildcards(
          fn,
          allow(['secretsmanager:ListSecrets'], ['*']),
          'secretsmanager:ListSecrets has no resource-level permission; the adapter lists by this environment\'s name prefix and reads only what the statement above allows.',
        );
        return;
      case 'cacheUsers':
        allowWithWildcards(
          fn,
          allow(
            ['elasticache:CreateUser', 'elasticache:ModifyUser', 'elasticache:DeleteUser', 'elasticache:DescribeUsers', 'elasticache:AddTagsToResource'],
            [arnIn(this, 'elasticache', 'user', `hp-${environment}-*`, { sep: ArnFormat.COLON_RESOURCE_NAME })],
          ),
          'Cache users are created per tenant at run time, every one named hp-<environment>-…; no other user matches.',
        );
        // Every cache's user group: a tenant's user joins its own cache's, and a user is taken out of whichever it is in.
        fn.grantPrincipal.addToPrincipalPolicy(
          allow(
            ['elasticache:ModifyUserGroup', 'elasticache:DescribeUserGroups'],
            cell.caches.map((cache) => arnIn(this, 'elasticache', 'usergroup', cache.userGroupId, { sep: ArnFormat.COLON_RESOURCE_NAME })),
          ),
        );
        allowWithWildcards(
          fn,
          allow(['elasticache:DescribeUsers', 'elasticache:DescribeUserGroups'], ['*']),
          'DescribeUsers and DescribeUserGroups without an id list across the account, which drift finding does; they only read.',
        );
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
        allowWithWildcards(
          fn,
          allow(
            ['states:DescribeExecution'],
            WORKFLOW_NAMES.map((workflow) => arnIn(this, 'states', 'execution', `${this.props.stateMachineNames[workflow]}:*`, { sep: ArnFormat.COLON_RESOURCE_NAME })),
          ),
          'Executions are named when they start; this reads the executions of this environment\'s three state machines only.',
        );
        return;
      case 'notices':
        for (const cache of cell.caches) cache.controlPlaneSecret.grantRead(fn);
        return;
      case 'backups':
        // What S3BackupStore sends (PutObject, GetObject, ListObjectsV2, DeleteObjects), not grantReadWrite's
        // wildcard action groups. A delete leaves a noncurrent version the bucket keeps for a week.
        fn.grantPrincipal.addToPrincipalPolicy(allow(['s3:ListBucket'], [this.props.backupBucket.bucketArn]));
        allowWithWildcards(
          fn,
          allow(['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], [this.props.backupBucket.arnForObjects('*')]),
          'Backup objects are keyed <environment>/<tenant>/<backup>/… at run time; the bucket holds this environment\'s backups only.',
        );
        return;
    }
  }

  private grantCompute(fn: IGrantable): void {
    const { cell, environment } = this.props;
    // Tenant task roles live under their own IAM path, so this grant reaches no other role.
    const tenantRoles = arnIn(this, 'iam', 'role', `hostplane/${environment}/*`, { region: '' });
    // The cluster by its derived name, not the cell stack's export, so the wildcard reads the same in the template and its acknowledgement.
    const clusterName = cellNames({ environment, cell: cell.cell }).prefix;
    allowWithWildcards(
      fn,
      allow(
        ['ecs:CreateService', 'ecs:UpdateService', 'ecs:DeleteService', 'ecs:DescribeServices', 'ecs:TagResource'],
        [arnIn(this, 'ecs', 'service', `${clusterName}/hp-${environment}-*`)],
      ),
      'Tenant services are created at run time on the cell\'s cluster, every one named hp-<environment>-…',
    );
    fn.grantPrincipal.addToPrincipalPolicy(allow(['ecs:ListServices'], [cell.cluster.clusterArn]));
    // A task definition names a secret by its full ARN (with Secrets Manager's suffix): the adapter looks it up.
    allowWithWildcards(fn, allow(['secretsmanager:DescribeSecret'], [this.tenantSecrets]), TENANT_SECRETS_REASON);
    // Task definitions are registered and listed by family: ECS offers no resource-level permission for these.
    allowWithWildcards(
      fn,
      allow(['ecs:RegisterTaskDefinition', 'ecs:DeregisterTaskDefinition', 'ecs:ListTaskDefinitions', 'ecs:DescribeTaskDefinition', 'ecs:TagResource'], ['*']),
      'ECS RegisterTaskDefinition, DeregisterTaskDefinition, ListTaskDefinitions and DescribeTaskDefinition take no resource ARN (a family is named in the request); TagResource rides along to tag at registration.',
    );
    // A tenant's Cloud Map service is created in the cell's namespace only; once made, it is reached by its ARN.
    allowWithWildcards(
      fn,
      allow(['servicediscovery:CreateService', 'servicediscovery:TagResource'], ['*'], { StringEquals: { 'servicediscovery:NamespaceArn': cell.namespace.namespaceArn } }),
      'A Cloud Map service has no ARN before it is created; the NamespaceArn condition keeps creation to the cell\'s namespace.',
    );
    allowWithWildcards(
      fn,
      allow(['servicediscovery:GetService', 'servicediscovery:DeleteService', 'servicediscovery:ListInstances'], [arnIn(this, 'servicediscovery', 'service', '*')]),
      'Cloud Map service ids (srv-…) are generated at creation, and these calls carry no namespace to condition on.',
    );
    allowWithWildcards(
      fn,
      allow(['servicediscovery:ListServices', 'servicediscovery:GetOperation'], ['*']),
      'Cloud Map ListServices and GetOperation take no resource ARN.',
    );
    allowWithWildcards(
      fn,
      allow(
        ['elasticfilesystem:CreateAccessPoint', 'elasticfilesystem:DeleteAccessPoint', 'elasticfilesystem:DescribeAccessPoints', 'elasticfilesystem:TagResource'],
        [cell.fileSystem.fileSystemArn, arnIn(this, 'elasticfilesystem', 'access-point', '*')],
      ),
      'A tenant\'s EFS access point gets a generated id (fsap-…) when created; creation itself is on the cell\'s file system only.',
    );
    // A role is created, and its policy written, only with the tenant task boundary on it; no right to
    // change or remove a boundary (Put/DeleteRolePermissionsBoundary) is granted, so no tenant role can exceed it.
    allowWithWildcards(
      fn,
      allow(['iam:CreateRole', 'iam:PutRolePolicy'], [tenantRoles], {
        StringEquals: { 'iam:PermissionsBoundary': this.tenantTaskBoundary.policy.managedPolicyArn },
      }),
      'Tenant task roles are created at run time under the IAM path hostplane/<environment>/, which holds no other role, and only with the tenant task boundary.',
    );
    allowWithWildcards(
      fn,
      allow(['iam:GetRole', 'iam:DeleteRole', 'iam:GetRolePolicy', 'iam:DeleteRolePolicy', 'iam:ListRolePolicies', 'iam:TagRole'], [tenantRoles]),
      'Tenant task roles are read, tagged and removed under the IAM path hostplane/<environment>/, which holds no other role.',
    );
    allowWithWildcards(
      fn,
      allow(['iam:PassRole'], [tenantRoles, cell.tenantExecutionRole.roleArn], { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }),
      'Passes only the tenant task roles of this environment\'s IAM path (and the cell\'s execution role), and only to ECS tasks.',
    );
  }

  private grantEdge(fn: IGrantable): void {
    const { cell, environment, edge } = this.props;
    const buckets = `arn:${Stack.of(this).partition}:s3:::hp-${environment}-*`;
    allowWithWildcards(
      fn,
      allow(
        ['s3:CreateBucket', 's3:DeleteBucket', 's3:ListBucket', 's3:ListBucketVersions', 's3:PutBucketPolicy', 's3:PutBucketPublicAccessBlock', 's3:PutEncryptionConfiguration',
          's3:PutBucketOwnershipControls', 's3:PutBucketTagging', 's3:GetBucketTagging', 's3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:GetObject'],
        [buckets, `${buckets}/*`],
      ),
      'Tenant asset buckets are created at run time, every one named hp-<environment>-…, with their objects.',
    );
    allowWithWildcards(fn, allow(['s3:ListAllMyBuckets'], ['*']), 'ListBuckets takes no resource ARN; drift finding lists this environment\'s buckets by prefix.');
    allowWithWildcards(
      fn,
      allow(
        ['cloudfront:CreateDistributionTenant', 'cloudfront:GetConnectionGroup', 'cloudfront:UpdateDistributionTenant', 'cloudfront:GetDistributionTenant', 'cloudfront:GetDistributionTenantByDomain',
          'cloudfront:DeleteDistributionTenant', 'cloudfront:ListDistributionTenants', 'cloudfront:ListDistributionTenantsByCustomization',
          'cloudfront:CreateDistribution', 'cloudfront:GetDistribution', 'cloudfront:GetDistributionConfig',
          'cloudfront:UpdateDistribution', 'cloudfront:DeleteDistribution', 'cloudfront:ListDistributions', 'cloudfront:TagResource', 'cloudfront:ListTagsForResource',
          'cloudfront:CreateFunction', 'cloudfront:PublishFunction', 'cloudfront:DescribeFunction', 'cloudfront:UpdateFunction', 'cloudfront:DeleteFunction', 'cloudfront:ListFunctions',
          'cloudfront:CreateOriginAccessControl', 'cloudfront:GetOriginAccessControl', 'cloudfront:DeleteOriginAccessControl', 'cloudfront:ListOriginAccessControls'],
        ['*'],
      ),
      'Distributions, distribution tenants, functions and origin access controls are created per tenant with generated ids, and CloudFront\'s create and list calls take no resource ARN.',
    );
    fn.grantPrincipal.addToPrincipalPolicy(
      allow(['route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets'], [`arn:${Stack.of(this).partition}:route53:::hostedzone/${edge.hostedZoneId}`]),
    );
    allowWithWildcards(
      fn,
      allow(['route53:GetChange'], [`arn:${Stack.of(this).partition}:route53:::change/*`]),
      'A change id is known only once ChangeResourceRecordSets returns it; GetChange only reads its status.',
    );
    allowWithWildcards(
      fn,
      allow(['acm:RequestCertificate', 'acm:DescribeCertificate', 'acm:DeleteCertificate', 'acm:AddTagsToCertificate'], ['*']),
      'A tenant\'s custom-domain certificate is requested at run time (RequestCertificate takes no resource ARN) and gets a generated id.',
    );
    cell.originSecret.grantRead(fn);
  }
}
