import { ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { AutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import {
  BlockDeviceVolume,
  EbsDeviceVolumeType,
  InstanceArchitecture,
  LaunchTemplate,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  UserData,
  type InstanceType,
  type IVpc,
} from 'aws-cdk-lib/aws-ec2';
import type { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import { AmiHardwareType, AsgCapacityProvider, Cluster, ContainerInsights, EcsOptimizedImage } from 'aws-cdk-lib/aws-ecs';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { CellNames } from './cell-names.js';

export interface CellComputeProps {
  readonly names: CellNames;
  readonly vpc: IVpc;
  /** An arm64 (Graviton) type: the ECS-optimized AMI and the images are arm64. */
  readonly instanceType: InstanceType;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  /** The tenant image, which the tenant task execution role may pull. */
  readonly tenantImage: DockerImageAsset;
}

/**
 * The host ports Docker picks from for a `hostPort: 0` mapping: the Linux kernel's ephemeral range
 * on the ECS-optimized AMI (`/proc/sys/net/ipv4/ip_local_port_range`; ECS API reference,
 * PortMapping). Tenant tasks use bridge networking, so the edge reaches them on these ports.
 */
export const DYNAMIC_HOST_PORTS = { from: 32768, to: 60999 } as const;

/** What the ECS agent keeps for itself and the OS on each instance (`ECS_RESERVED_MEMORY`), in MiB. */
export const ECS_RESERVED_MEMORY_MIB = 256;

/**
 * Where tenant services run: an ECS cluster (Container Insights on) whose only capacity is an EC2
 * Auto Scaling group of arm64 ECS-optimized instances behind a capacity provider with managed
 * scaling (target 100%, so services placed with binpack fill instances before new ones start),
 * managed termination protection and managed draining. Also what every tenant task shares: its
 * execution role and log group. Tenant tasks use bridge networking: they share their instance's
 * network interface, so the instances' security group is theirs too (whatever a tenant reaches,
 * its instance reaches), and no ENI is spent per tenant.
 */
export class CellCompute extends Construct {
  public readonly cluster: Cluster;
  public readonly autoScalingGroup: AutoScalingGroup;
  public readonly capacityProvider: AsgCapacityProvider;
  /** The name a tenant service's capacity provider strategy names. */
  public readonly capacityProviderName: string;
  /**
   * The container instances' group: the ECS agent, image pulls and EFS mounts done by the host, and
   * every tenant task (bridge networking), which the edge reaches on {@link DYNAMIC_HOST_PORTS}.
   */
  public readonly instanceSecurityGroup: SecurityGroup;
  /** Pulls the tenant image, writes tenant logs, reads the cell's tenant secrets (`<secretPrefix>/*`). */
  public readonly tenantExecutionRole: Role;
  public readonly tenantLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: CellComputeProps) {
    super(scope, id);
    const { names, vpc } = props;
    if (props.instanceType.architecture !== InstanceArchitecture.ARM_64) {
      throw new Error(`${props.instanceType.toString()} is not arm64: the fleet runs the arm64 ECS-optimized AMI and arm64 images`);
    }

    this.instanceSecurityGroup = new SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc,
      description: `${names.prefix} ECS container instances`,
      allowAllOutbound: false,
    });
    this.instanceSecurityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'AWS APIs (ECS, ECR, S3, logs) through endpoints or NAT');

    const instanceRole = new Role(this, 'InstanceRole', { assumedBy: new ServicePrincipal('ec2.amazonaws.com') });
    for (const finding of ['Action::ecs:Submit*', 'Resource::*']) {
      Validations.of(instanceRole).acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: 'The ECS agent policy CDK grants the container instances: discovery, polling and ECR auth calls take no resource ARN.',
      });
    }
    const userData = UserData.forLinux();
    // No task may borrow the instance role from the metadata service: awsvpc tasks (the edge) by the
    // agent's setting; bridge tasks (tenants) by dropping what containers send to it (ECS developer
    // guide, "Amazon ECS task IAM role": restricting access to instance metadata), besides the hop
    // limit of 1, which keeps IMDSv2 tokens from reaching a container. Task roles on in bridge mode.
    userData.addCommands(
      'echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config',
      'echo ECS_ENABLE_TASK_IAM_ROLE=true >> /etc/ecs/ecs.config',
      `echo ECS_RESERVED_MEMORY=${ECS_RESERVED_MEMORY_MIB} >> /etc/ecs/ecs.config`,
      'iptables --insert FORWARD 1 --in-interface docker+ --destination 169.254.169.254/32 --jump DROP',
    );
    const launchTemplate = new LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: EcsOptimizedImage.amazonLinux2023(AmiHardwareType.ARM),
      instanceType: props.instanceType,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      detailedMonitoring: true,
      securityGroup: this.instanceSecurityGroup,
      role: instanceRole,
      userData,
      blockDevices: [{ deviceName: '/dev/xvda', volume: BlockDeviceVolume.ebs(30, { encrypted: true, volumeType: EbsDeviceVolumeType.GP3 }) }],
    });
    this.autoScalingGroup = new AutoScalingGroup(this, 'Fleet', {
      vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      launchTemplate,
      minCapacity: props.minCapacity,
      maxCapacity: props.maxCapacity,
      cooldown: Duration.minutes(5),
    });
    Validations.of(this.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'ECS managed scaling drives this group; its scaling events are in the capacity provider and ASG activity history, and Container Insights watches the cluster.',
    });

    this.cluster = new Cluster(this, 'Cluster', {
      vpc,
      clusterName: names.prefix,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    this.capacityProvider = new AsgCapacityProvider(this, 'CapacityProvider', {
      autoScalingGroup: this.autoScalingGroup,
      enableManagedScaling: true,
      targetCapacityPercent: 100,
      enableManagedTerminationProtection: true,
      enableManagedDraining: true,
    });
    this.cluster.addAsgCapacityProvider(this.capacityProvider);
    this.cluster.addDefaultCapacityProviderStrategy([{ capacityProvider: this.capacityProvider.capacityProviderName, weight: 1 }]);
    this.capacityProviderName = this.capacityProvider.capacityProviderName;

    this.tenantLogGroup = new LogGroup(this, 'TenantLogs', {
      logGroupName: `/hostplane/${names.environment}/${names.cell}/tenants`,
      retention: RetentionDays.ONE_MONTH,
      // Container output is scratch: a tenant's state lives in its database, cache and files.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.tenantExecutionRole = new Role(this, 'TenantExecutionRole', {
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `${names.prefix}: starts tenant tasks (image, logs, tenant secrets)`,
    });
    props.tenantImage.repository.grantPull(this.tenantExecutionRole);
    this.tenantLogGroup.grantWrite(this.tenantExecutionRole);
    // Secret ARNs end in a random suffix: `<name>-AbCdEf`; the tenant secrets are created at run time.
    Grant.addToPrincipal({
      grantee: this.tenantExecutionRole,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [
        Stack.of(this).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${names.secretPrefix}/*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ],
    });
    Validations.of(this.tenantExecutionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken (from grantPull) takes no resource ARN.',
    });
    Validations.of(this.tenantExecutionRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagArn(this, `secretsmanager`, `secret:${names.secretPrefix}/*`)}]`,
      reason: "Tenant secrets are created at run time under the cell's prefix; each task definition names only its own tenant's secrets.",
    });
  }
}

/** An ARN as cdk-nag prints it in a finding id: unresolved partition, region and account as `<AWS::…>`. */
function nagArn(scope: Construct, service: string, resource: string): string {
  const { region, account } = Stack.of(scope);
  const shown = (value: string, pseudo: string): string => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  return `arn:<AWS::Partition>:${service}:${shown(region, 'Region')}:${shown(account, 'AccountId')}:${resource}`;
}
