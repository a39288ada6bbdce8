import { RemovalPolicy } from 'aws-cdk-lib';
import { SecurityGroup, SubnetType, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { FileSystem, LifecyclePolicy, OutOfInfrequentAccessPolicy, PerformanceMode, ThroughputMode, type AccessPoint } from 'aws-cdk-lib/aws-efs';
import { AnyPrincipal, Effect, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { CellNames } from './cell-names.js';

/**
 * The file system's policy grants nothing: who may mount is said by identity policies alone — the
 * control plane's functions through the admin access point, each tenant task role through its own
 * access point (its inline policy, capped by the tenant task boundary). It only refuses: any access
 * that does not come through a mount target, mounting or writing without an access point (so no
 * client sees the tree except as an access point shows it), and root access (every access point
 * enforces uid/gid 1000, so none needs it).
 */
export function appFilesPolicy(): PolicyDocument {
  const anyone = [new AnyPrincipal()];
  const clientActions = ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite', 'elasticfilesystem:ClientRootAccess'];
  return new PolicyDocument({
    statements: [
      new PolicyStatement({
        sid: 'OnlyThroughMountTargets',
        effect: Effect.DENY,
        principals: anyone,
        actions: clientActions,
        conditions: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'false' } },
      }),
      new PolicyStatement({
        sid: 'OnlyThroughAccessPoints',
        effect: Effect.DENY,
        principals: anyone,
        actions: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
        conditions: { Null: { 'elasticfilesystem:AccessPointArn': 'true' } },
      }),
      new PolicyStatement({ sid: 'NoRootAccess', effect: Effect.DENY, principals: anyone, actions: ['elasticfilesystem:ClientRootAccess'] }),
    ],
  });
}

/** The POSIX identity files are written as, by the control plane and by tenant tasks alike. */
export const APP_FILES_UID_GID = '1000';

export interface CellAppFilesProps {
  readonly names: CellNames;
  readonly vpc: IVpc;
}

/**
 * The tenants' app files: one encrypted EFS file system per cell (mount targets in the private
 * subnets; IAM-authorized clients through access points only, see `appFilesPolicy`; automatic
 * backups; retained on removal). The control plane's Lambdas mount it through the admin access
 * point (the whole tree, as uid/gid 1000) to drop releases; each tenant task mounts only its own
 * folder through an access point the control plane creates.
 */
export class CellAppFiles extends Construct {
  public readonly fileSystem: FileSystem;
  public readonly adminAccessPoint: AccessPoint;
  public readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: CellAppFilesProps) {
    super(scope, id);
    const { names, vpc } = props;
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', { vpc, description: `${names.prefix} app files (EFS)`, allowAllOutbound: false });
    this.fileSystem = new FileSystem(this, 'FileSystem', {
      vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: this.securityGroup,
      encrypted: true,
      performanceMode: PerformanceMode.GENERAL_PURPOSE,
      throughputMode: ThroughputMode.ELASTIC,
      // Old releases go cold; a file read again comes back to standard storage.
      lifecyclePolicy: LifecyclePolicy.AFTER_30_DAYS,
      outOfInfrequentAccessPolicy: OutOfInfrequentAccessPolicy.AFTER_1_ACCESS,
      enableAutomaticBackups: true,
      // No CDK default policy (it grants every principal ClientWrite and ClientRootAccess through a mount
      // target, which would undo the per-tenant access points): the policy below is the whole of it.
      // Anonymous (non-IAM) clients get nothing from it, so they cannot mount.
      allowAnonymousAccess: true,
      fileSystemPolicy: appFilesPolicy(),
      // Tenant apps: data is retained.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.adminAccessPoint = this.fileSystem.addAccessPoint('AdminAccessPoint', {
      path: '/',
      posixUser: { uid: APP_FILES_UID_GID, gid: APP_FILES_UID_GID },
    });
  }
}
