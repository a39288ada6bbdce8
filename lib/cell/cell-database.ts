import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { SecurityGroup, SubnetType, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  AuroraPostgresEngineVersion,
  ClusterInstance,
  Credentials,
  DatabaseCluster,
  DatabaseClusterEngine,
  type DatabaseSecret,
  type Endpoint,
} from 'aws-cdk-lib/aws-rds';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { CellNames } from './cell-names.js';

/** PostgreSQL's port, stated so that the security group rules name it. */
export const DATABASE_PORT = 5432;

/** The admin login of the cell's cluster; the control plane creates one database and role per tenant with it. */
export const DATABASE_ADMIN_USER = 'hostplane_admin';

export interface CellDatabaseProps {
  readonly names: CellNames;
  readonly vpc: IVpc;
  /** Serverless v2 capacity range, in ACUs (0.5 to 256). */
  readonly minAcu: number;
  readonly maxAcu: number;
}

/**
 * The cell's PostgreSQL: Aurora Serverless v2 with the RDS Data API on (the control plane's SQL
 * port), TLS required (`rds.force_ssl`), a generated admin secret, storage encryption, IAM authentication, deletion protection, two
 * weeks of backups and a final snapshot on removal. A writer and a reader in another AZ that scales
 * with it, so a failover finds a warm instance.
 */
export class CellDatabase extends Construct {
  public readonly cluster: DatabaseCluster;
  public readonly clusterArn: string;
  /** `{ username, password, host, port, … }` of the admin login; the Data API calls name it. */
  public readonly adminSecret: ISecret;
  public readonly endpoint: Endpoint;
  public readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: CellDatabaseProps) {
    super(scope, id);
    const { names, vpc } = props;
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', { vpc, description: `${names.prefix} Aurora`, allowAllOutbound: false });
    // Created here rather than by RDS so that it has a retention (and no custom resource to set one).
    const logGroup = new LogGroup(this, 'PostgresqlLogs', {
      logGroupName: `/aws/rds/cluster/${names.prefix}/postgresql`,
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.cluster = new DatabaseCluster(this, 'Cluster', {
      clusterIdentifier: names.prefix,
      engine: DatabaseClusterEngine.auroraPostgres({ version: AuroraPostgresEngineVersion.VER_17_9 }),
      credentials: Credentials.fromGeneratedSecret(DATABASE_ADMIN_USER, { secretName: `${names.sharedSecretPrefix}/database-admin` }),
      writer: ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: true }),
      readers: [ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true, autoMinorVersionUpgrade: true })],
      serverlessV2MinCapacity: props.minAcu,
      serverlessV2MaxCapacity: props.maxAcu,
      port: DATABASE_PORT,
      vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      enableDataApi: true,
      iamAuthentication: true,
      storageEncrypted: true,
      deletionProtection: true,
      backup: { retention: Duration.days(14), preferredWindow: '03:00-04:00' },
      copyTagsToSnapshot: true,
      // TLS or nothing (pg_hba `hostssl`): tenants connect with sslmode=verify-full against the RDS CAs
      // of their image; the control plane's own connections verify them too (NODE_EXTRA_CA_CERTS).
      parameters: { 'rds.force_ssl': '1' },
      cloudwatchLogsExports: ['postgresql'],
      // Tenant data: a final snapshot, never a bare delete.
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    this.cluster.node.addDependency(logGroup);
    const secret = this.cluster.secret;
    if (!secret) throw new Error('the cluster was created without its generated admin secret');
    this.adminSecret = secret;
    // `cluster.secret` is the attachment; the generated secret itself is the cluster's child `Secret`.
    const generated = this.cluster.node.findChild('Secret') as DatabaseSecret;
    // Kept with the final snapshot: whoever restores it needs the login.
    generated.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(generated).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Rotation of the admin secret is not scheduled yet: it needs a rotation Lambda in the VPC and the Data API callers to tolerate the switch. Tracked as follow-up work.',
    });
    this.clusterArn = this.cluster.clusterArn;
    this.endpoint = this.cluster.clusterEndpoint;
  }
}
