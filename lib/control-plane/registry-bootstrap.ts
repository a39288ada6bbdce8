import { CustomResource, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { Function as LambdaFunction, IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { registryDatabaseName } from '../../lambdas/domain/naming.js';
import { REGISTRY_MIGRATIONS, type Migration } from '../../lambdas/registry/migrations.js';
import { migrationsDigest } from '../../lambdas/registry/registry-bootstrap.js';
import { acknowledgeWildcards, allow } from './cell-access.js';

/**
 * How long the bootstrap function may run: long enough to wait out a cold Aurora Serverless v2
 * resume and apply the migrations, well inside the custom resource framework's own 15 minutes.
 */
export const REGISTRY_BOOTSTRAP_TIMEOUT_SECONDS = 300;

export interface RegistryBootstrapProps {
  /** The environment whose registry (`hp_<environment>_registry`) is created and migrated. */
  readonly environment: string;
  /** The BootstrapRegistry function (`lambdas/handlers/bootstrap-registry.ts`), with its access to the cell's cluster. */
  readonly handler: IFunction;
  /**
   * The migration list whose digest the resource carries: a new migration changes it, so the next
   * `cdk deploy` updates the resource and the function applies the migration.
   * @default REGISTRY_MIGRATIONS
   */
  readonly migrations?: readonly Migration[];
}

/**
 * The registry as a stack bootstrap step (ADR 0008): a custom resource, through CDK's Provider
 * framework, whose Create and Update run the BootstrapRegistry function (the registry database
 * created if missing, then migrated). Its properties are the database's name and the digest of the
 * migration list, so a deploy that adds a migration re-runs it. Retained: the registry is data, and
 * deleting the resource never touches it. Whatever serves requests (the state machines, the API,
 * the event rules) is made to depend on `resource`.
 */
export class RegistryBootstrap extends Construct {
  public readonly resource: CustomResource;
  /** The registry database's name. */
  public readonly database: string;
  /** The digest of the migration list the resource carries (`MigrationsDigest`). */
  public readonly migrationsDigest: string;

  constructor(scope: Construct, id: string, props: RegistryBootstrapProps) {
    super(scope, id);
    this.database = registryDatabaseName(props.environment);
    this.migrationsDigest = migrationsDigest(props.migrations ?? REGISTRY_MIGRATIONS);

    const logGroup = new LogGroup(this, 'ProviderLogs', {
      retention: RetentionDays.ONE_MONTH,
      // The framework's own logs are scratch: what the bootstrap did is in its function's log and the registry.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const provider = new Provider(this, 'Provider', { onEventHandler: props.handler, logGroup });
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "The Provider construct gives CDK's custom resource framework Lambda AWS's basic execution role; that Lambda only writes its own logs and invokes BootstrapRegistry.",
    });
    // The framework's onEvent Lambda, as the Provider construct names it.
    const framework = provider.node.findChild('framework-onEvent') as LambdaFunction;
    acknowledgeWildcards(
      framework,
      allow(['lambda:InvokeFunction'], [`${props.handler.functionArn}:*`]),
      "The Provider construct's grantInvoke: the BootstrapRegistry function and its versions, no other function.",
    );

    this.resource = new CustomResource(this, 'Registry', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::HostplaneRegistry',
      properties: { Database: this.database, MigrationsDigest: this.migrationsDigest },
      // Data: never deleted with the stack (and the function's Delete does nothing anyway).
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
