import { CfnOutput, Stack, Tags, Token } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { InstanceClass, InstanceSize, InstanceType, Peer, Port, SecurityGroup, type ISubnet, type IVpc } from 'aws-cdk-lib/aws-ec2';
import type { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import type { ContainerImage, ICluster } from 'aws-cdk-lib/aws-ecs';
import type { AccessPoint, IFileSystem } from 'aws-cdk-lib/aws-efs';
import type { IApplicationLoadBalancer } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { DatabaseCluster } from 'aws-cdk-lib/aws-rds';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IPrivateDnsNamespace } from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import { acknowledgeCfnLint } from './cfn-lint-acknowledgements.js';
import { CellAppFiles } from './cell/cell-app-files.js';
import { CellCache } from './cell/cell-cache.js';
import { CellCompute, DYNAMIC_HOST_PORTS } from './cell/cell-compute.js';
import { CellDatabase, DATABASE_PORT } from './cell/cell-database.js';
import { CellDiscovery } from './cell/cell-discovery.js';
import { CellIngress } from './cell/cell-ingress.js';
import { cellNames, type CellNames } from './cell/cell-names.js';
import { CellNetwork } from './cell/cell-network.js';
import { MultiTenantEdge } from './cell/multi-tenant-edge.js';
import { TENANT_APP_PORT, TenantImage } from './cell/tenant-image.js';
import { Certificate, CertificateValidation } from 'aws-cdk-lib/aws-certificatemanager';
import { OriginProtocolPolicy } from 'aws-cdk-lib/aws-cloudfront';
import { ARecord, HostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { LoadBalancerTarget } from 'aws-cdk-lib/aws-route53-targets';

export interface CellStackProps extends StackProps {
  /** The environment the cell belongs to (dev, prod, a test run); the rule of `scopeSchema`. */
  readonly environment: string;
  /** The cell's name within the environment; the rule of `scopeSchema`. */
  readonly cell: string;
  /** Availability Zones the cell spans. @default 2 */
  readonly maxAzs?: number;
  /** The VPC's IPv4 range. @default '10.0.0.0/16' */
  readonly vpcCidr?: string;
  /** The ECS fleet's instance type; arm64 (Graviton) only. @default m7g.large */
  readonly instanceType?: InstanceType;
  /** Fewest container instances. @default 2 (one per AZ) */
  readonly minCapacity?: number;
  /** Most container instances: the cell's compute limit. @default 10 */
  readonly maxCapacity?: number;
  /** Aurora Serverless v2 floor, in ACUs. @default 0.5 */
  readonly auroraMinAcu?: number;
  /** Aurora Serverless v2 ceiling, in ACUs. @default 16 */
  readonly auroraMaxAcu?: number;
  /** The caches' node type. @default 'cache.t4g.small' */
  readonly cacheNodeType?: string;
  /**
   * How many caches (replication groups, each with its one user group of at most 100 users) the
   * cell has. @default 1 (a cell built from the config gets its `caches` setting, 6 by default)
   */
  readonly caches?: number;
  /** An ACM certificate (in the stack's region) for an HTTPS listener on the ALB. @default - HTTP on 80 */
  readonly certificateArn?: string;
  /** The CloudFront origin-facing prefix list id. @default - looked up at deploy time by a custom resource */
  readonly cloudFrontPrefixListId?: string;
  /** Caddy's image. @default - built from `runtime/edge/` */
  readonly edgeImage?: ContainerImage;
  /**
   * The domain tenants are served under and its Route 53 hosted zone. With them the cell gets
   * `origin-<cell>.<domain>` for its ALB (an alias record, and unless `certificateArn` is given an
   * ACM certificate for it, validated by DNS), so CloudFront reaches the ALB over verified HTTPS.
   * @default - no DNS: the ALB is reached by its own name
   */
  readonly dns?: { readonly domain: string; readonly hostedZoneId: string };
  /**
   * Build the cell's multi-tenant CloudFront distribution (edge mode `tenant`), with this us-east-1
   * certificate for `*.<domain>` when given.
   * @default - no distribution (edge mode `dedicated`)
   */
  readonly multiTenantEdge?: { readonly certificateArn?: string };
}

/** What the control plane (its stack and its adapters' configuration) needs of a cell. */
export interface CellResources {
  readonly names: CellNames;
  readonly vpc: IVpc;
  readonly privateSubnets: ISubnet[];
  readonly cluster: ICluster;
  readonly capacityProviderName: string;
  /** The container instances' group, which tenant tasks share (bridge networking). */
  readonly instanceSecurityGroup: SecurityGroup;
  /** For the control plane's VPC Lambdas: reaches Aurora, the cache and EFS, and AWS APIs on 443. */
  readonly controlPlaneSecurityGroup: SecurityGroup;
  readonly tenantExecutionRole: IRole;
  readonly tenantLogGroup: ILogGroup;
  readonly tenantImage: DockerImageAsset;
  readonly tenantAppPort: number;
  readonly database: { readonly cluster: DatabaseCluster; readonly adminSecret: ISecret; readonly clusterArn: string };
  /** The cell's caches, in index order (a tenant's plan names its own by index). */
  readonly caches: readonly {
    /** The replication group's id. */
    readonly id: string;
    readonly userGroupId: string;
    /** Engine the tenant cache users must be created with (`ElastiCacheCacheUsers`' `engine`). */
    readonly userEngine: 'redis';
    readonly endpoint: { readonly host: string; readonly port: number };
    readonly controlPlaneSecret: ISecret;
  }[];
  readonly fileSystem: IFileSystem;
  readonly adminAccessPoint: AccessPoint;
  readonly namespace: IPrivateDnsNamespace;
  readonly loadBalancer: IApplicationLoadBalancer;
  readonly originSecret: ISecret;
  /** The name CloudFront reaches the ALB by (`origin-<cell>.<domain>`, or the ALB's own). */
  readonly originDomainName: string;
  /** The cell's multi-tenant distribution, when the cell has one. */
  readonly multiTenantDistribution?: { readonly distributionId: string; readonly distributionArn: string };
}

/**
 * One cell: a copy of the shared platform that tenants are placed on (DESIGN.md, "The platform it
 * manages"): network, ECS compute on an EC2 fleet, Aurora Serverless v2, an ElastiCache cache with
 * RBAC, EFS app files, a Cloud Map namespace and the ALB → Caddy ingress. Security groups admit
 * only: ALB → Caddy; Caddy → the container instances on the dynamic host ports (tenant tasks use
 * bridge networking, so their traffic is their instance's); the instances (tenant tasks, and the
 * ECS agent mounting tenant volumes) and the control plane → Aurora, cache and EFS.
 *
 * The stack needs a concrete region (`env.region`): ALB access logging depends on it. Nothing else
 * is looked up: `cdk synth` runs offline.
 */
export class CellStack extends Stack {
  public readonly resources: CellResources;

  constructor(scope: Construct, id: string, props: CellStackProps) {
    super(scope, id, props);
    const names = cellNames({ environment: props.environment, cell: props.cell });
    if (Token.isUnresolved(this.region)) throw new Error(`${id}: a cell stack needs env.region (ALB access logs are delivered per region)`);
    Tags.of(this).add('hostplane:environment', names.environment);
    Tags.of(this).add('hostplane:cell', names.cell);

    const network = new CellNetwork(this, 'Network', { maxAzs: props.maxAzs, cidr: props.vpcCidr });
    const { vpc } = network;
    const tenantImage = new TenantImage(this, 'TenantImage');
    const compute = new CellCompute(this, 'Compute', {
      names,
      vpc,
      instanceType: props.instanceType ?? InstanceType.of(InstanceClass.M7G, InstanceSize.LARGE),
      minCapacity: props.minCapacity ?? 2,
      maxCapacity: props.maxCapacity ?? 10,
      tenantImage: tenantImage.asset,
    });
    const database = new CellDatabase(this, 'Database', { names, vpc, minAcu: props.auroraMinAcu ?? 0.5, maxAcu: props.auroraMaxAcu ?? 16 });
    const cacheProps = { names, vpc, subnets: network.privateSubnets, nodeType: props.cacheNodeType ?? 'cache.t4g.small' };
    // Cache 0 keeps the construct id and names of a cell with one cache; the others share its security and subnet groups.
    const cache = new CellCache(this, 'Cache', cacheProps);
    const caches = [cache];
    for (let index = 1; index < (props.caches ?? 1); index += 1) caches.push(new CellCache(this, `Cache${index}`, { ...cacheProps, index, shareNetworkOf: cache }));
    const appFiles = new CellAppFiles(this, 'AppFiles', { names, vpc });
    const discovery = new CellDiscovery(this, 'Discovery', { names, vpc });
    const zone = props.dns ? HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: props.dns.hostedZoneId, zoneName: props.dns.domain }) : undefined;
    const originName = props.dns ? `origin-${names.cell}.${props.dns.domain}` : undefined;
    const listenerCertificateArn =
      props.certificateArn ??
      (zone && originName ? new Certificate(this, 'OriginCertificate', { domainName: originName, validation: CertificateValidation.fromDns(zone) }).certificateArn : undefined);
    const ingress = new CellIngress(this, 'Ingress', {
      names,
      vpc,
      cluster: compute.cluster,
      capacityProviderName: compute.capacityProviderName,
      namespaceName: discovery.namespace.namespaceName,
      dnsResolver: network.dnsResolver,
      tenantHostSecurityGroup: compute.instanceSecurityGroup,
      tenantHostPorts: DYNAMIC_HOST_PORTS,
      certificateArn: listenerCertificateArn,
      cloudFrontPrefixListId: props.cloudFrontPrefixListId,
      edgeImage: props.edgeImage,
    });
    // The edge service must wait for its capacity provider to be associated with the cluster. CDK adds that
    // association at synthesis (an aspect), so the dependency is on the cluster construct as a whole.
    ingress.edgeService.node.addDependency(compute.capacityProvider, compute.cluster);
    acknowledgeCfnLint(
      ingress.edgeService,
      'W3005',
      "It depends on the cluster construct as a whole, to wait for the capacity provider association CDK adds at synthesis; the cluster and the capacity provider are also named by Ref, which cfn-lint flags as redundant.",
    );

    const controlPlaneSecurityGroup = new SecurityGroup(this, 'ControlPlaneSecurityGroup', {
      vpc,
      description: `${names.prefix} control plane VPC Lambdas`,
      allowAllOutbound: false,
    });
    controlPlaneSecurityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'AWS APIs through endpoints or NAT');

    // Tenant tasks (bridge networking) reach the data stores from their instance's interface, and the
    // ECS agent mounts a task's EFS volume from the instance too (AWS knowledge center, "Mount EFS on
    // ECS container or task").
    for (const client of [compute.instanceSecurityGroup, controlPlaneSecurityGroup]) {
      database.cluster.connections.allowFrom(client, Port.tcp(DATABASE_PORT));
      cache.connections.allowDefaultPortFrom(client);
      appFiles.fileSystem.connections.allowDefaultPortFrom(client);
    }

    if (zone && originName) {
      new ARecord(this, 'OriginRecord', { zone, recordName: originName, target: RecordTarget.fromAlias(new LoadBalancerTarget(ingress.loadBalancer)) });
    }
    const originDomainName = originName ?? ingress.loadBalancer.loadBalancerDnsName;
    const edge = props.multiTenantEdge
      ? new MultiTenantEdge(this, 'Edge', {
          loadBalancer: ingress.loadBalancer,
          originSecret: ingress.originSecret,
          domain: props.dns?.domain,
          certificate: props.multiTenantEdge.certificateArn ? Certificate.fromCertificateArn(this, 'EdgeCertificate', props.multiTenantEdge.certificateArn) : undefined,
          originDomainName,
          // Without a name the ALB has a certificate for, CloudFront cannot verify it: plain HTTP then.
          originProtocolPolicy: listenerCertificateArn ? OriginProtocolPolicy.HTTPS_ONLY : OriginProtocolPolicy.HTTP_ONLY,
        })
      : undefined;

    this.resources = {
      names,
      vpc,
      privateSubnets: network.privateSubnets,
      cluster: compute.cluster,
      capacityProviderName: compute.capacityProviderName,
      instanceSecurityGroup: compute.instanceSecurityGroup,
      controlPlaneSecurityGroup,
      tenantExecutionRole: compute.tenantExecutionRole,
      tenantLogGroup: compute.tenantLogGroup,
      tenantImage: tenantImage.asset,
      tenantAppPort: TENANT_APP_PORT,
      database: { cluster: database.cluster, adminSecret: database.adminSecret, clusterArn: database.clusterArn },
      caches: caches.map((each) => ({
        id: each.replicationGroupId,
        userGroupId: each.userGroupId,
        userEngine: each.userEngine,
        endpoint: each.endpoint,
        controlPlaneSecret: each.controlPlaneSecret,
      })),
      fileSystem: appFiles.fileSystem,
      adminAccessPoint: appFiles.adminAccessPoint,
      namespace: discovery.namespace,
      loadBalancer: ingress.loadBalancer,
      originSecret: ingress.originSecret,
      originDomainName,
      multiTenantDistribution: edge ? { distributionId: edge.distributionId, distributionArn: edge.distributionArn } : undefined,
    };

    new CfnOutput(this, 'LoadBalancerDnsName', { value: ingress.loadBalancer.loadBalancerDnsName, description: 'The ALB that tenant CloudFront origins point at' });
    new CfnOutput(this, 'NamespaceName', { value: discovery.namespace.namespaceName, description: 'The Cloud Map namespace of tenant services' });
  }
}
