import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import type { ICluster } from 'aws-cdk-lib/aws-ecs';
import type { IAccessPoint, IFileSystem } from 'aws-cdk-lib/aws-efs';
import type { IApplicationLoadBalancer } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Effect, PolicyStatement, type IGrantable, type IRole } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IDatabaseCluster } from 'aws-cdk-lib/aws-rds';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IPrivateDnsNamespace } from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';

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
  readonly tenantExecutionRole: IRole;
  readonly tenantLogGroup: ILogGroup;
  readonly tenantImage: { readonly imageUri: string };
  readonly database: {
    readonly cluster: IDatabaseCluster & { grantDataApiAccess(grantee: IGrantable): unknown };
    readonly adminSecret: ISecret;
    readonly clusterArn: string;
  };
  /** The cell's caches, in the order a tenant plan's `cache.index` counts them. */
  readonly caches: readonly {
    readonly id: string;
    readonly userGroupId: string;
    readonly endpoint: { readonly host: string; readonly port: number };
    readonly controlPlaneSecret: ISecret;
  }[];
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

/**
 * Gives `grantee` a statement whose wildcards are deliberate, and records why next to it: see
 * `acknowledgeWildcards`.
 */
export function allowWithWildcards(grantee: IGrantable, statement: PolicyStatement, reason: string): void {
  grantee.grantPrincipal.addToPrincipalPolicy(statement);
  acknowledgeWildcards(grantee, statement, reason);
}

/**
 * Acknowledges, on the role that holds `statement` (the grantee's), each cdk-nag AwsSolutions-IAM5
 * finding the statement raises, with `reason`: one per wildcard action (`Action::s3:List*`) and per
 * wildcard resource (`Resource::arn:<AWS::Partition>:…:secret:hostplane/dev/*`), spelt as cdk-nag
 * spells them, and nothing more. Used as is for the statements CDK itself adds (X-Ray, log delivery).
 * A resource must not name another stack's value: cdk-nag reads it once it is an import.
 */
export function acknowledgeWildcards(grantee: IGrantable, statement: PolicyStatement, reason: string): void {
  const holder = grantee.grantPrincipal;
  if (!Construct.isConstruct(holder)) throw new Error('acknowledgeWildcards: the grantee\'s principal is not a construct of this app');
  acknowledgeWildcardsOn(holder, statement, reason);
}

/** `acknowledgeWildcards` on the construct that holds `statement` itself (a managed policy). */
export function acknowledgeWildcardsOn(holder: Construct, statement: PolicyStatement, reason: string): void {
  const stack = Stack.of(holder);
  const findings = [
    ...statement.actions.filter((action) => action.includes('*')).map((action) => `Action::${action}`),
    ...statement.resources.map((resource) => nagSpelling(stack.resolve(resource))).filter((resource) => resource.includes('*')).map((resource) => `Resource::${resource}`),
  ];
  if (findings.length === 0) throw new Error(`acknowledgeWildcards: ${statement.actions.join(', ')} has no wildcard to acknowledge`);
  for (const finding of new Set(findings)) Validations.of(holder).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
}

/** A resolved CloudFormation value flattened the way cdk-nag names it in a finding (`<Logical.Arn>`, `<AWS::Partition>`). */
function nagSpelling(value: unknown): string {
  if (typeof value === 'string') return value.replaceAll('${', '<').replaceAll('}', '>');
  if (typeof value === 'object' && value !== null) {
    const fn = value as Record<string, unknown>;
    if (Array.isArray(fn['Fn::Join'])) {
      const [separator, parts] = fn['Fn::Join'] as [string, unknown[]];
      return parts.map(nagSpelling).join(separator);
    }
    if (fn['Fn::Sub'] !== undefined) return nagSpelling(fn['Fn::Sub']);
    if (Array.isArray(fn['Fn::GetAtt'])) return `<${fn['Fn::GetAtt'].map(nagSpelling).join('.')}>`;
    if (fn['Fn::ImportValue'] !== undefined) return nagSpelling(fn['Fn::ImportValue']);
    if (fn['Ref'] !== undefined) return `<${nagSpelling(fn['Ref'])}>`;
  }
  return JSON.stringify(value);
}
