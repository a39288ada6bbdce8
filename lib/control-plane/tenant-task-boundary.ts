import { ArnFormat, Stack } from 'aws-cdk-lib';
import { ManagedPolicy } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeWildcardsOn, allow, arnIn, type ControlPlaneCell } from './cell-access.js';

export interface TenantTaskBoundaryProps {
  readonly environment: string;
  readonly cell: ControlPlaneCell;
}

/**
 * The permissions boundary of every tenant task role (`cloud/adapters/tenant-task-role.ts` creates
 * them at run time): the most a tenant's container may ever do in AWS, whatever the role's inline
 * policy says — read this environment's tenant secrets, use objects of this environment's tenant
 * buckets, mount and write the cell's app files through an access point — and nothing of IAM. The
 * compute functions may create a role or write its policy only with this boundary on it
 * (`iam:PermissionsBoundary`), and may not remove or change a role's boundary, so what they create
 * can never hand a tenant more than this. Each role's inline policy narrows it to its own tenant.
 * Container logs are shipped by the ECS agent with the cell's execution role, not the task role.
 */
export class TenantTaskBoundary extends Construct {
  public readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: TenantTaskBoundaryProps) {
    super(scope, id);
    const { environment, cell } = props;
    const partition = Stack.of(this).partition;
    const buckets = `arn:${partition}:s3:::hp-${environment}-*`;
    const secrets = allow(
      ['secretsmanager:GetSecretValue'],
      [arnIn(this, 'secretsmanager', 'secret', `hostplane/${environment}/*`, { sep: ArnFormat.COLON_RESOURCE_NAME })],
    );
    const assetObjects = allow(['s3:GetObject', 's3:PutObject'], [`${buckets}/*`]);
    const assetListing = allow(['s3:ListBucket'], [buckets]);
    const appFiles = allow(['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'], [cell.fileSystem.fileSystemArn], {
      Null: { 'elasticfilesystem:AccessPointArn': 'false' },
    });
    this.policy = new ManagedPolicy(this, 'Policy', {
      managedPolicyName: `hostplane-${environment}-tenant-task-boundary`,
      description: `Hostplane ${environment}: the most a tenant task role may do (its secrets, its bucket, its app files through an access point)`,
      statements: [secrets, assetObjects, assetListing, appFiles],
    });
    acknowledgeWildcardsOn(this.policy, secrets, 'A boundary for every tenant: tenant secrets are named hostplane/<environment>/<cell>/<tenant>; each role\'s inline policy names its own.');
    acknowledgeWildcardsOn(this.policy, assetObjects, 'A boundary for every tenant: tenant buckets are named hp-<environment>-…; each role\'s inline policy names its own bucket.');
    acknowledgeWildcardsOn(this.policy, assetListing, 'A boundary for every tenant: tenant buckets are named hp-<environment>-…; each role\'s inline policy names its own bucket.');
  }
}
