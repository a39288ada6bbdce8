import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Peer, Port, SecurityGroup, SubnetType, type ISecurityGroup, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  BuiltInAttributes,
  ContainerImage,
  Ec2Service,
  Ec2TaskDefinition,
  LogDrivers,
  NetworkMode,
  PlacementStrategy,
  Secret as EcsSecret,
  type ICluster,
} from 'aws-cdk-lib/aws-ecs';
import {
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ListenerCertificate,
  SslPolicy,
  type ApplicationListener,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledgeCfnLint } from '../cfn-lint-acknowledgements.js';
import { REPOSITORY_ROOT } from '../hostplane-function.js';
import type { CellNames } from './cell-names.js';
import { CloudFrontOriginPrefixList } from './cloudfront-origin-prefix-list.js';

/** The port Caddy listens on in its task (its `EDGE_PORT`). */
export const EDGE_PORT = 8000;

/** The path Caddy answers for the load balancer's health check, whatever the tenants' state. */
export const EDGE_HEALTH_PATH = '/__edge/healthz';

/** What each Caddy task reserves on the tenants' fleet (the cell's limits table counts it). */
export const EDGE_TASK_SIZE = { cpu: 256, memoryReservationMiB: 256, memoryLimitMiB: 512 } as const;

/** How many Caddy tasks run by default. */
export const DEFAULT_EDGE_TASK_COUNT = 2;

/** The edge image's build folder (a Dockerfile and a Caddyfile). */
export const EDGE_IMAGE_DIR = join(REPOSITORY_ROOT, 'runtime', 'edge');

export interface CellIngressProps {
  readonly names: CellNames;
  readonly vpc: IVpc;
  readonly cluster: ICluster;
  /** The capacity provider the edge service runs on (the tenants' fleet). */
  readonly capacityProviderName: string;
  /** The Cloud Map namespace Caddy looks tenants up in (its `SERVICE_NAMESPACE`). */
  readonly namespaceName: string;
  /** `host:port` of the VPC resolver (its `DNS_RESOLVER`). */
  readonly dnsResolver: string;
  /** The group of the instances that run tenant tasks (bridge networking), which the edge may reach on `tenantHostPorts`. */
  readonly tenantHostSecurityGroup: ISecurityGroup;
  /** The host ports tenant tasks are published on (a dynamic range: their SRV records say which). */
  readonly tenantHostPorts: { readonly from: number; readonly to: number };
  /** Serve HTTPS on 443 with this ACM certificate (in the stack's region). @default - HTTP on 80 */
  readonly certificateArn?: string;
  /** The CloudFront origin-facing prefix list's id. @default - found at deploy time ({@link CloudFrontOriginPrefixList}) */
  readonly cloudFrontPrefixListId?: string;
  /** Caddy's image. @default - built from `runtime/edge/` for arm64 */
  readonly edgeImage?: ContainerImage;
  /** How many Caddy tasks, spread over the AZs. @default 2 */
  readonly edgeTaskCount?: number;
}

/**
 * The cell's front door: one internet-facing ALB that only CloudFront can reach (its security group
 * admits the CloudFront origin-facing prefix list, nothing else), forwarding everything to Caddy on
 * ECS. Caddy checks the origin-verify secret that the tenants' CloudFront functions inject, maps the
 * tenant header to the tenant's SRV record in the namespace and proxies to the tenant's tasks. One
 * ALB serves every tenant of the cell: no listener rule per tenant.
 */
export class CellIngress extends Construct {
  public readonly loadBalancer: ApplicationLoadBalancer;
  public readonly listener: ApplicationListener;
  /** The value CloudFront sends in the origin-verify header and Caddy requires (a plain string). */
  public readonly originSecret: Secret;
  public readonly edgeService: Ec2Service;
  public readonly loadBalancerSecurityGroup: SecurityGroup;
  public readonly edgeSecurityGroup: SecurityGroup;
  public readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: CellIngressProps) {
    super(scope, id);
    const { names, vpc } = props;

    this.originSecret = new Secret(this, 'OriginSecret', {
      secretName: `${names.sharedSecretPrefix}/origin-verify`,
      description: `${names.prefix}: the origin-verify header value CloudFront sends and the edge requires`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.originSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: "CloudFront sends the value as an origin custom header, copied into each distribution (the cell's and every dedicated one); rotating it means updating those while the edge accepts both values.",
    });

    this.edgeSecurityGroup = new SecurityGroup(this, 'EdgeSecurityGroup', { vpc, description: `${names.prefix} edge (Caddy) tasks`, allowAllOutbound: false });
    const taskDefinition = new Ec2TaskDefinition(this, 'EdgeTask', { networkMode: NetworkMode.AWS_VPC });
    taskDefinition.addContainer('caddy', {
      image: props.edgeImage ?? ContainerImage.fromAsset(EDGE_IMAGE_DIR, { platform: Platform.LINUX_ARM64 }),
      cpu: EDGE_TASK_SIZE.cpu,
      memoryReservationMiB: EDGE_TASK_SIZE.memoryReservationMiB,
      memoryLimitMiB: EDGE_TASK_SIZE.memoryLimitMiB,
      portMappings: [{ containerPort: EDGE_PORT, name: 'http' }],
      environment: {
        EDGE_PORT: String(EDGE_PORT),
        SERVICE_NAMESPACE: props.namespaceName,
        DNS_RESOLVER: props.dnsResolver,
      },
      secrets: { ORIGIN_SECRET: EcsSecret.fromSecretsManager(this.originSecret) },
      logging: LogDrivers.awsLogs({
        streamPrefix: 'edge',
        logGroup: new LogGroup(this, 'EdgeLogs', {
          logGroupName: `/hostplane/${names.environment}/${names.cell}/edge`,
          retention: RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      }),
    });
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'EDGE_PORT, SERVICE_NAMESPACE and DNS_RESOLVER are not secret; the origin secret comes from Secrets Manager.',
    });
    Validations.of(taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken (image pull) takes no resource ARN.',
    });
    this.edgeService = new Ec2Service(this, 'EdgeService', {
      cluster: props.cluster,
      taskDefinition,
      desiredCount: props.edgeTaskCount ?? DEFAULT_EDGE_TASK_COUNT,
      capacityProviderStrategies: [{ capacityProvider: props.capacityProviderName, weight: 1 }],
      placementStrategies: [PlacementStrategy.spreadAcross(BuiltInAttributes.AVAILABILITY_ZONE)],
      securityGroups: [this.edgeSecurityGroup],
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
    });
    this.edgeService.connections.allowTo(
      props.tenantHostSecurityGroup,
      Port.tcpRange(props.tenantHostPorts.from, props.tenantHostPorts.to),
      'edge to tenant apps on their dynamic host ports',
    );

    this.loadBalancerSecurityGroup = new SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: `${names.prefix} ALB: CloudFront origin-facing addresses only`,
      allowAllOutbound: false,
    });
    const https = props.certificateArn !== undefined;
    const listenerPort = https ? 443 : 80;
    const prefixListId = props.cloudFrontPrefixListId ?? new CloudFrontOriginPrefixList(this, 'CloudFrontPrefixList').prefixListId;
    this.loadBalancerSecurityGroup.addIngressRule(Peer.prefixList(prefixListId), Port.tcp(listenerPort), 'CloudFront origin-facing');

    this.accessLogs = new Bucket(this, 'AccessLogs', {
      // ALB access logs can only be delivered to SSE-S3 buckets.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      // Request records are evidence: kept when the cell goes, expired by the lifecycle rule.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket holds the ALB access logs; logging its own accesses would need another bucket for no gain.',
    });
    this.loadBalancer = new ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      securityGroup: this.loadBalancerSecurityGroup,
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(this.accessLogs, 'alb');
    this.listener = this.loadBalancer.addListener(https ? 'Https' : 'Http', {
      port: listenerPort,
      protocol: https ? ApplicationProtocol.HTTPS : ApplicationProtocol.HTTP,
      ...(props.certificateArn !== undefined
        ? { certificates: [ListenerCertificate.fromArn(props.certificateArn)], sslPolicy: SslPolicy.RECOMMENDED_TLS }
        : {}),
      // The security group above decides who may connect; `open` would add 0.0.0.0/0.
      open: false,
    });
    this.listener.addTargets('Edge', {
      port: EDGE_PORT,
      protocol: ApplicationProtocol.HTTP,
      targets: [this.edgeService.loadBalancerTarget({ containerName: 'caddy', containerPort: EDGE_PORT })],
      healthCheck: { path: EDGE_HEALTH_PATH, healthyHttpCodes: '200', interval: Duration.seconds(15) },
      deregistrationDelay: Duration.seconds(30),
    });
    acknowledgeCfnLint(
      this.edgeService,
      'W3005',
      "CDK's Ec2Service depends on the listener and its target group, so the target group is attached to the load balancer before the service registers tasks; the target group is also named in LoadBalancers, which cfn-lint flags as redundant.",
    );
  }
}
