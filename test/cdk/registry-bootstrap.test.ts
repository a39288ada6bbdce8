import { beforeAll, describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { FUNCTIONS } from '../../lambdas/functions.js';
import { REGISTRY_MIGRATIONS, type Migration } from '../../lambdas/registry/migrations.js';
import { migrationsDigest } from '../../lambdas/registry/registry-bootstrap.js';
import { CLOUD_VARIABLES } from '../../cloud/cloud-environment.js';
import { REGISTRY_BOOTSTRAP_TIMEOUT_SECONDS, RegistryBootstrap } from '../../lib/control-plane/registry-bootstrap.js';
import { buildSampleStacks } from '../support/cdk-stacks.js';

const SYNTH_TIMEOUT_MS = 180_000;

interface CfnResource {
  readonly Type: string;
  readonly Properties: Readonly<Record<string, unknown>>;
  readonly DependsOn?: readonly string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

interface PolicyStatement {
  readonly Action: string | string[];
  readonly Resource: unknown;
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The digest a RegistryBootstrap carries for `migrations`, built in a stack of its own. */
function digestCarriedFor(migrations: readonly Migration[]): unknown {
  const stack = new Stack(new App(), 'Probe');
  const handler = new LambdaFunction(stack, 'Handler', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async () => ({});') });
  new RegistryBootstrap(stack, 'Registry', { environment: 'probe', handler, migrations });
  const [resource] = Object.values(Template.fromStack(stack).findResources('Custom::HostplaneRegistry')) as CfnResource[];
  return resource?.Properties['MigrationsDigest'];
}

describe('the registry bootstrap step (ControlPlaneStack)', () => {
  let resources: Record<string, CfnResource>;
  let registryId: string;
  let registry: CfnResource;
  let bootstrapId: string;

  beforeAll(() => {
    resources = Template.fromStack(buildSampleStacks().controlPlane).toJSON()['Resources'] as Record<string, CfnResource>;
    [registryId, registry] = Object.entries(resources).find(([, resource]) => resource.Type === 'Custom::HostplaneRegistry')!;
    [bootstrapId] = Object.entries(resources).find(
      ([, resource]) => resource.Type === 'AWS::Lambda::Function' && resource.Properties['Description'] === FUNCTIONS.BootstrapRegistry,
    )!;
  }, SYNTH_TIMEOUT_MS);

  it('creates a retained custom resource naming the registry and the digest of the migrations', () => {
    expect(registry.Properties).toMatchObject({ Database: 'hp_test_registry', MigrationsDigest: migrationsDigest(REGISTRY_MIGRATIONS) });
    expect(registry.DeletionPolicy).toBe('Retain');
    expect(registry.UpdateReplacePolicy).toBe('Retain');
  });

  it('is served by the Provider framework, whose onEvent invokes the BootstrapRegistry function and nothing else', () => {
    const frameworkId = (registry.Properties['ServiceToken'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const framework = resources[frameworkId]!;
    expect(framework.Properties['Environment']).toEqual({ Variables: { USER_ON_EVENT_FUNCTION_ARN: { 'Fn::GetAtt': [bootstrapId, 'Arn'] } } });
    const frameworkRole = (framework.Properties['Role'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const invoked = Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy' && JSON.stringify(resource.Properties['Roles']) === JSON.stringify([{ Ref: frameworkRole }]))
      .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: PolicyStatement[] }).Statement)
      .flatMap((statement) => asList(statement.Resource).map((resource) => JSON.stringify(resource)));
    expect(invoked.every((resource) => resource.includes(`"${bootstrapId}"`))).toBe(true);
  });

  it('makes every state machine, every event rule and the API stage wait for it', () => {
    const waiting = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
    const consumers = [...waiting('AWS::StepFunctions::StateMachine'), ...waiting('AWS::Events::Rule'), ...waiting('AWS::ApiGateway::Stage')];
    expect(consumers.length).toBe(4 + 3 + 1); // provision, deploy, deprovision and backup; three rules; the stage
    expect(consumers.filter(([, resource]) => !resource.DependsOn?.includes(registryId)).map(([id]) => id)).toEqual([]);
  });

  it('runs the function in the VPC with the pg path and time to wait out a resuming Aurora', () => {
    const fn = resources[bootstrapId]!;
    expect(fn.Properties['Timeout']).toBe(REGISTRY_BOOTSTRAP_TIMEOUT_SECONDS);
    expect(fn.Properties['VpcConfig']).toBeDefined();
    const variables = (fn.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(variables[CLOUD_VARIABLES.databaseServerStatements]).toBe('pg');
    expect(variables).toHaveProperty(CLOUD_VARIABLES.databaseHost);
    expect(variables).not.toHaveProperty(CLOUD_VARIABLES.caches);
    expect(variables).not.toHaveProperty(CLOUD_VARIABLES.provisionStateMachineArn);
  });

  it("grants the function the Data API on the cell's cluster and its admin secret, its own log group and tracing: nothing more", () => {
    const roleId = (resources[bootstrapId]!.Properties['Role'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy' && JSON.stringify(resource.Properties['Roles']).includes(`"${roleId}"`))
      .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: PolicyStatement[] }).Statement);
    const actions = statements.flatMap((statement) => asList(statement.Action)).sort();

    expect(actions).toEqual(
      [
        'logs:CreateLogStream', 'logs:PutLogEvents',
        'rds-data:BatchExecuteStatement', 'rds-data:BeginTransaction', 'rds-data:CommitTransaction', 'rds-data:ExecuteStatement', 'rds-data:RollbackTransaction',
        'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue',
        'xray:PutTelemetryRecords', 'xray:PutTraceSegments',
      ].sort(),
    );
    const resourceOf = (prefix: string) => JSON.stringify(statements.find((statement) => asList(statement.Action)[0]!.startsWith(prefix))!.Resource);
    expect(resourceOf('rds-data:')).toContain('DatabaseCluster');
    expect(resourceOf('secretsmanager:')).toContain('DatabaseClusterSecretAttachment');
    expect(resourceOf('logs:')).toContain('FunctionsBootstrapRegistryLogs');
    const managed = JSON.stringify(resources[roleId]!.Properties['ManagedPolicyArns']);
    expect(managed.match(/policy\/[\w/-]+/g)).toEqual(['policy/service-role/AWSLambdaVPCAccessExecutionRole']);
  });

  it('carries a digest that changes when a migration is added or edited, and only then', () => {
    const added: Migration[] = [...REGISTRY_MIGRATIONS, { version: 99, name: 'a new table', statements: ['CREATE TABLE later (id int)'] }];
    const edited: Migration[] = REGISTRY_MIGRATIONS.map((migration, i) =>
      i === REGISTRY_MIGRATIONS.length - 1 ? { ...migration, statements: [...migration.statements, 'SELECT 1'] } : migration,
    );

    const current = digestCarriedFor(REGISTRY_MIGRATIONS);

    expect(current).toBe(registry.Properties['MigrationsDigest']);
    expect(digestCarriedFor([...REGISTRY_MIGRATIONS])).toBe(current);
    expect(digestCarriedFor(added)).not.toBe(current);
    expect(digestCarriedFor(edited)).not.toBe(current);
  });
});
