import { RemovalPolicy } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
  type ISubnet,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeCfnLint } from '../cfn-lint-acknowledgements.js';

export interface CellNetworkProps {
  /** How many Availability Zones the cell spans. @default 2 */
  readonly maxAzs?: number;
  /** The VPC's IPv4 range. Its base address + 2 is the VPC's DNS resolver. @default '10.0.0.0/16' */
  readonly cidr?: string;
}

/**
 * Interface endpoints, chosen for what runs in the private subnets: the ECS agent pulls tenant and
 * edge images (ECR api + dkr, layers from the S3 gateway), reads task secrets (Secrets Manager) and
 * ships container logs (CloudWatch Logs); the control plane's VPC Lambdas call the RDS Data API and
 * Secrets Manager. Everything else (ECS, ElastiCache and Cloud Map APIs) goes out through the NAT
 * gateways: those calls are few, and an endpoint per AZ costs more than their traffic.
 */
const INTERFACE_ENDPOINTS = {
  SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  EcrApi: InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Logs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  RdsData: InterfaceVpcEndpointAwsService.RDS_DATA,
} as const;

/**
 * The cell's network: a VPC with public subnets (the ALB, the NAT gateways) and private subnets with
 * egress (everything else), S3 and DynamoDB gateway endpoints, the interface endpoints above and
 * flow logs of all traffic.
 */
export class CellNetwork extends Construct {
  public readonly vpc: Vpc;
  /** Where tasks, Lambdas, the database, the cache and the file system's mount targets live. */
  public readonly privateSubnets: ISubnet[];
  /** `<VPC base + 2>:53`, the Amazon-provided resolver, which answers the Cloud Map private namespace. */
  public readonly dnsResolver: string;
  /** Shared by the interface endpoints: HTTPS from the VPC's range, nothing out. */
  public readonly endpointSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: CellNetworkProps = {}) {
    super(scope, id);
    const cidr = props.cidr ?? '10.0.0.0/16';
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(cidr),
      maxAzs: props.maxAzs ?? 2,
      subnetConfiguration: [
        { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        // awsvpc tasks take one address each: room for thousands per AZ.
        { name: 'Private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      gatewayEndpoints: {
        S3: { service: GatewayVpcEndpointAwsService.S3 },
        DynamoDb: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    this.privateSubnets = this.vpc.privateSubnets;
    for (const subnet of [...this.vpc.publicSubnets, ...this.vpc.privateSubnets]) {
      acknowledgeCfnLint(
        subnet,
        'W3010',
        "A stack with an account and Region gets its zones' names from CDK's context lookup (kept in cdk.context.json; placeholders offline), so a subnet never moves between deploys.",
      );
    }
    this.endpointSecurityGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Interface endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    this.endpointSecurityGroup.addIngressRule(Peer.ipv4(cidr), Port.tcp(443), 'HTTPS from the VPC');
    for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [this.endpointSecurityGroup],
        open: false,
      });
    }
    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: RetentionDays.THREE_MONTHS,
      // Network evidence outlives the cell that produced it.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.vpc.addFlowLog('FlowLog', { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.ALL });
    this.dnsResolver = `${vpcResolverAddress(cidr)}:53`;
  }
}

/** The Amazon DNS server of a VPC: the base of its primary IPv4 range plus two. */
export function vpcResolverAddress(cidr: string): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const bits = Number(match?.[5]);
  if (octets.length !== 4 || octets.some((o) => o > 255) || !(bits >= 16 && bits <= 28)) {
    throw new Error(`${cidr} is not an IPv4 CIDR a VPC can have (/16 to /28)`);
  }
  const address = octets.reduce((n, o) => n * 256 + o, 0);
  const base = address - (address % 2 ** (32 - bits));
  const resolver = base + 2;
  return [24, 16, 8, 0].map((shift) => Math.floor(resolver / 2 ** shift) % 256).join('.');
}
