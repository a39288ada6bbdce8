import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Connections, Port, SecurityGroup, type ISubnet, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { CfnReplicationGroup, CfnSubnetGroup, CfnUser, CfnUserGroup } from 'aws-cdk-lib/aws-elasticache';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { CellNames } from './cell-names.js';

/** Valkey's (and Redis OSS's) port; the cache answers TLS only on it. */
export const CACHE_PORT = 6379;

/**
 * The engine of the cell's RBAC users and user group. `redis`, not `valkey`: a user group of engine
 * VALKEY may only hold users that authenticate (password or IAM), so it cannot hold the disabled
 * password-less `default` user; a Valkey cache accepts user groups of either engine (ElastiCache
 * RBAC guide, "limitations"). The control plane creates tenant users with this engine.
 */
export const CACHE_USER_ENGINE = 'redis';

/** The control plane's access: PUBLISH on tenant channels (`t:<tenant>:deploy` notices), nothing else, no keys. */
export const CONTROL_PLANE_CACHE_ACCESS = 'on resetchannels &t:* -@all +publish';

export interface CellCacheProps {
  readonly names: CellNames;
  readonly vpc: IVpc;
  readonly subnets: ISubnet[];
  /** e.g. `cache.t4g.small` (Graviton). */
  readonly nodeType: string;
  /**
   * Which of the cell's caches this is (a tenant's plan names it). Cache 0 keeps the names a cell
   * had when it had one cache; cache i > 0 adds `-<i>` to every physical name. @default 0
   */
  readonly index?: number;
  /** Another cache of the cell whose security group and subnet group this one shares. @default - its own */
  readonly shareNetworkOf?: CellCache;
}

/**
 * One of the cell's caches: an ElastiCache Valkey replication group (a primary and a replica in
 * another AZ, automatic failover) with TLS and at-rest encryption and RBAC. Its user group holds a
 * disabled `default` user (every group must hold a user named `default`; this one cannot log in),
 * the control plane's publish-only user, and the tenant users the control plane adds at run time.
 * A replication group takes one user group, and a user group holds 100 users, so a cell has several
 * of these (`CellStack`, setting `caches`).
 */
export class CellCache extends Construct {
  /** Its index among the cell's caches. */
  public readonly index: number;
  public readonly replicationGroup: CfnReplicationGroup;
  /** The replication group's id. */
  public readonly replicationGroupId: string;
  public readonly subnetGroup: CfnSubnetGroup;
  public readonly userGroupId: string;
  public readonly userEngine = CACHE_USER_ENGINE;
  /** The primary endpoint (TLS). */
  public readonly endpoint: { readonly host: string; readonly port: number };
  /** `{ username, password }` of the control plane's cache user. */
  public readonly controlPlaneSecret: Secret;
  public readonly securityGroup: SecurityGroup;
  /** Who may reach the cache: `connections.allowDefaultPortFrom(...)`. */
  public readonly connections: Connections;

  constructor(scope: Construct, id: string, props: CellCacheProps) {
    super(scope, id);
    const { names, vpc } = props;
    this.index = props.index ?? 0;
    const suffix = this.index === 0 ? '' : `-${this.index}`;
    const shared = props.shareNetworkOf;
    this.securityGroup = shared?.securityGroup ?? new SecurityGroup(this, 'SecurityGroup', { vpc, description: `${names.prefix} cache`, allowAllOutbound: false });
    this.subnetGroup =
      shared?.subnetGroup ??
      new CfnSubnetGroup(this, 'SubnetGroup', {
        cacheSubnetGroupName: `${names.prefix}-cache${suffix}`,
        description: `${names.prefix} cache, private subnets`,
        subnetIds: props.subnets.map((subnet) => subnet.subnetId),
      });
    const subnetGroup = this.subnetGroup;

    const disabledDefault = new CfnUser(this, 'DisabledDefaultUser', {
      userId: `${names.prefix}-default-off${suffix}`,
      userName: 'default',
      engine: CACHE_USER_ENGINE,
      accessString: 'off -@all',
      noPasswordRequired: true,
    });
    const controlPlaneUserName = `${names.prefix}-control-plane${suffix}`;
    this.controlPlaneSecret = new Secret(this, 'ControlPlaneSecret', {
      secretName: `${names.sharedSecretPrefix}/cache-control-plane${suffix}`,
      description: `${names.prefix}: the control plane's cache user (publish on t:* only)`,
      // ElastiCache passwords: 16 to 128 printable characters without / " @ or spaces.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: controlPlaneUserName }),
        generateStringKey: 'password',
        passwordLength: 48,
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.controlPlaneSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The password is set on the ElastiCache user by this stack; rotating it means updating the user too, done by redeploying with a new secret version.',
    });
    const controlPlaneUser = new CfnUser(this, 'ControlPlaneUser', {
      userId: controlPlaneUserName,
      userName: controlPlaneUserName,
      engine: CACHE_USER_ENGINE,
      accessString: CONTROL_PLANE_CACHE_ACCESS,
      passwords: [this.controlPlaneSecret.secretValueFromJson('password').unsafeUnwrap()],
    });
    const userGroup = new CfnUserGroup(this, 'UserGroup', {
      userGroupId: `${names.prefix}-users${suffix}`,
      engine: CACHE_USER_ENGINE,
      userIds: [disabledDefault.userId, controlPlaneUser.userId],
    });
    userGroup.node.addDependency(disabledDefault);
    userGroup.node.addDependency(controlPlaneUser);

    this.replicationGroup = new CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupId: `${names.prefix}${suffix}`,
      replicationGroupDescription: `${names.prefix}: tenant caches and deploy notices${this.index === 0 ? '' : ` (cache ${this.index})`}`,
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: props.nodeType,
      numNodeGroups: 1,
      replicasPerNodeGroup: 1,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      port: CACHE_PORT,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      userGroupIds: [userGroup.ref],
      snapshotRetentionLimit: 3,
      autoMinorVersionUpgrade: true,
    });
    Validations.of(this.replicationGroup).acknowledge({
      id: 'AwsSolutions-AEC6',
      reason: 'Clients authenticate as RBAC users of the user group (passwords per user, default user disabled), which replaces the single AUTH token.',
    });
    // No DependsOn on the subnet group or the user group: the Refs above already order them first.
    this.connections = new Connections({ securityGroups: [this.securityGroup], defaultPort: Port.tcp(CACHE_PORT) });
    this.userGroupId = userGroup.ref;
    this.replicationGroupId = this.replicationGroup.ref;
    this.endpoint = { host: this.replicationGroup.attrPrimaryEndPointAddress, port: CACHE_PORT };
  }
}
