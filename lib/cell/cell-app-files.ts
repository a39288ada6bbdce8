import { RemovalPolicy } from 'aws-cdk-lib';
import { SecurityGroup, SubnetType, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { FileSystem, LifecyclePolicy, OutOfInfrequentAccessPolicy, PerformanceMode, ThroughputMode, type AccessPoint } from 'aws-cdk-lib/aws-efs';
import { Construct } from 'constructs';
import type { CellNames } from './cell-names.js';

/** The POSIX identity files are written as, by the control plane and by tenant tasks alike. */
export const APP_FILES_UID_GID = '1000';

export interface CellAppFilesProps {
  readonly names: CellNames;
  readonly vpc: IVpc;
}

/**
 * The tenants' app files: one encrypted EFS file system per cell (mount targets in the private
 * subnets, IAM-authorized clients only, automatic backups, retained on removal). The control
 * plane's Lambdas mount it through the admin access point (the whole tree, as uid/gid 1000) to
 * drop releases; each tenant task mounts only its own folder through an access point the control
 * plane creates.
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
      // Clients mount with IAM authorization through a mount target (the ECS volumes and the Lambda mounts do).
      allowAnonymousAccess: false,
      // Tenant apps: data is retained.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.adminAccessPoint = this.fileSystem.addAccessPoint('AdminAccessPoint', {
      path: '/',
      posixUser: { uid: APP_FILES_UID_GID, gid: APP_FILES_UID_GID },
    });
  }
}
