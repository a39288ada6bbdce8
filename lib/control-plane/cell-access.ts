import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import type { ICluster } from 'aws-cdk-lib/aws-ecs';
import type { IAccessPoint, IFileSystem } from 'aws-cdk-lib/aws-efs';
import type { IApplicationLoadBalancer } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Effect, PolicyStatement, type IGrantable, type IRole } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IDatabaseCluster } from 'aws-cdk-lib/aws-rds';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IPrivateDnsNamespace } from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';

/**
 * What the control plane needs of the cell it manages: the resources its functions reach and the
 * names they pass on to tenants. `CellStack.resources` provides it.
 */
export interface ControlPlaneCell {
  readonly cell: string;
  readonly vpc: IVpc;
  readonly controlPlaneSecurityGroup: ISecurityGroup;
  readonly cluster: ICluster;
  readonly capacityProviderName: string;
  readonly tenantSecurityGroup: ISecurityGroup;
  readonly tenantExecutionRole: IRole;
  readonly tenantLogGroup: ILogGroup;
  readonly tenantImage: { readonly imageUri: string };
  readonly database: {
    readonly cluster: IDatabaseCluster & { grantDataApiAccess(grantee: IGrantable): unknown };
    readonly adminSecret: ISecret;
    readonly clusterArn: string;
  };
  readonly cache: {
    readonly userGroupId: string;
    readonly endpoint: { readonly host: string; readonly port: number | string };
    readonly controlPlaneSecret: ISecret;
  };
  readonly fileSystem: IFileSystem;
  readonly adminAccessPoint: IAccessPoint;
  readonly namespace: IPrivateDnsNamespace;
  readonly loadBalancer: IApplicationLoadBalancer;
  readonly originSecret: ISecret;
  /** The name CloudFront reaches the cell's ALB by (one its HTTPS listener has a certificate for). */
  readonly originDomainName: string;
  /** The cell's multi-tenant CloudFront distribution (edge mode `tenant`). */
  readonly multiTenantDistribution?: { readonly distributionId: string; readonly distributionArn: string };
}

/** An ARN in this stack's partition, region and account. */
export function arnIn(
  scope: Construct,
  service: string,
  resource: string,
  resourceName?: string,
  options: { region?: string; account?: string; sep?: ArnFormat } = {},
): string {
  return Stack.of(scope).formatArn({
    service,
    resource,
    resourceName,
    region: options.region,
    account: options.account,
    arnFormat: options.sep ?? ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** An IAM statement allowing `actions` on `resources`. */
export function allow(actions: string[], resources: string[], conditions?: Record<string, Record<string, unknown>>): PolicyStatement {
  return new PolicyStatement({ effect: Effect.ALLOW, actions, resources, conditions });
}
