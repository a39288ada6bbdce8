import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, it, expect } from '@jest/globals';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { API_ROUTES } from '../../lambdas/api/routes.js';
import { FUNCTIONS, isFunctionName } from '../../lambdas/functions.js';
import { CLOUD_VARIABLES } from '../../cloud/cloud-environment.js';
import { STATEMACHINES_DIR } from '../../lib/control-plane-stack.js';
import { JOB_TIMEOUT_SECONDS, jobOfState, jobTimeBudgetProblems, longestRunSeconds, type TimedMachine } from '../../lib/control-plane/job-time-budget.js';
import { buildSampleStacks } from '../support/cdk-stacks.js';

const SYNTH_TIMEOUT_MS = 180_000;

interface CfnResource {
  readonly Type: string;
  readonly Properties: Readonly<Record<string, unknown>>;
}

interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: unknown;
}

/** `{ "Fn::GetAtt": [<logical id>, "Arn"] }` → the logical id. */
function arnOf(value: unknown): string | undefined {
  const getAtt = (value as { 'Fn::GetAtt'?: unknown } | null)?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && getAtt[1] === 'Arn' && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

describe('ControlPlaneStack', () => {
  let template: Template;
  let lambdas: Record<string, CfnResource>;
  let machines: Record<string, CfnResource>;

  beforeAll(() => {
    template = Template.fromStack(buildSampleStacks().controlPlane);
    const ours = new Set<unknown>(Object.values(FUNCTIONS));
    // Ours: bundled from an entry of FUNCTIONS. CDK adds one more, the console's BucketDeployment provider.
    lambdas = Object.fromEntries(
      Object.entries(template.findResources('AWS::Lambda::Function') as Record<string, CfnResource>).filter(([, fn]) => ours.has(fn.Properties['Description'])),
    );
    machines = template.findResources('AWS::StepFunctions::StateMachine') as Record<string, CfnResource>;
  }, SYNTH_TIMEOUT_MS);

  /** The state machine whose logical id starts with `Provision` or `Deploy`. */
  const machine = (name: string): [string, CfnResource] => {
    const found = Object.entries(machines).filter(([id]) => id.startsWith(`${name}StateMachine`));
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('builds the provision, deploy, deprovision and backup state machines', () => {
    expect(Object.keys(machines).map((id) => id.replace(/StateMachine.*$/, '')).sort()).toEqual(['Backup', 'Deploy', 'Deprovision', 'Provision']);
  });

  it('runs a backup on request as the BackupTenant job, and lets the backup machine run exactly that task and its own functions', () => {
    const [, backup] = machine('Backup');
    const substitutions = backup.Properties['DefinitionSubstitutions'] as Record<string, unknown>;
    expect(Object.keys(substitutions).sort()).toEqual(
      [
        'BackupTenantTaskDefinitionArn',
        'CellCapacityProviderName',
        'CellClusterArn',
        'FailBackupOperationFunctionArn',
        'FinishBackupOperationFunctionArn',
        'RestoreBackupFunctionArn',
        'WriteExportFunctionArn',
      ].sort(),
    );
    const taskDefinition = (substitutions['BackupTenantTaskDefinitionArn'] as { Ref: string }).Ref;
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: arnOf(backup.Properties['RoleArn']) }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'ecs:RunTask', Resource: { Ref: taskDefinition }, Condition: Match.anyValue() })]),
      },
    });
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      Name: 'RestoreRequest',
      Schema: Match.objectLike({ required: ['backupId'], additionalProperties: false }),
    });
  });

  it('lets provision run deploy to completion (startExecution.sync) and nothing more of it', () => {
    const [deployId] = machine('Deploy');
    const [, provision] = machine('Provision');
    const role = arnOf((provision.Properties['RoleArn'] as unknown));
    expect(provision.Properties['DefinitionSubstitutions']).toMatchObject({ DeployStateMachineArn: { Ref: deployId } });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: role }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: deployId } }),
          Match.objectLike({ Action: ['states:DescribeExecution', 'states:StopExecution'] }),
          Match.objectLike({ Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'] }),
        ]),
      },
    });
  });

  it('creates one Lambda per FUNCTIONS entry, each bundled from that entry', () => {
    const entries = Object.values(lambdas).map((fn) => fn.Properties['Description']);

    expect(entries.sort()).toEqual(Object.values(FUNCTIONS).sort());
  });

  it('runs every Lambda on Node.js 22, arm64, with source maps and a one-month log group; 512 MiB but Compile, which runs esbuild', () => {
    expect(Object.values(lambdas).filter((fn) => fn.Properties['MemorySize'] !== 512).map((fn) => fn.Properties['Description'])).toEqual([FUNCTIONS.Compile]);
    const monthLongLogGroups = template.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } });
    for (const fn of Object.values(lambdas)) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
      expect((fn.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables['NODE_OPTIONS']).toBe('--enable-source-maps');
      const logGroup = (fn.Properties['LoggingConfig'] as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(monthLongLogGroups).toHaveProperty([logGroup]);
    }
  });

  /** The logical id of the Lambda bundled from `entry`. */
  const lambdaOf = (entry: string) => Object.entries(lambdas).find(([, fn]) => fn.Properties['Description'] === entry)![0];

  it('closes the operation of an execution of its machines that failed, timed out or was aborted', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: Match.arrayWith(Object.keys(machines).map((id) => ({ Ref: id }))),
        },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [lambdaOf(FUNCTIONS.ExecutionStatusChanged), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 4 } })],
    });
  });

  it('deploys an "App Definition Changed" event, and checks for drift every hour without fixing it', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['hostplane.apps'], 'detail-type': ['App Definition Changed'] },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [lambdaOf(FUNCTIONS.AppDefinitionChanged), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [lambdaOf(FUNCTIONS.ReconcileTenants), 'Arn'] }, Input: JSON.stringify({ fix: false }) })],
    });
    for (const entry of [FUNCTIONS.ExecutionStatusChanged, FUNCTIONS.AppDefinitionChanged, FUNCTIONS.ReconcileTenants]) {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [lambdaOf(entry), 'Arn'] },
      });
    }
  });

  /** The environment variables of the Lambda bundled from `entry`. */
  const variablesOf = (entry: string) =>
    (lambdas[lambdaOf(entry)]!.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;

  it('gives each Lambda the variables of the ports it uses and no others', () => {
    expect(variablesOf(FUNCTIONS.ListTenants)).toEqual(
      expect.objectContaining({ [CLOUD_VARIABLES.environment]: 'test', [CLOUD_VARIABLES.databaseClusterArn]: expect.anything() }),
    );
    expect(variablesOf(FUNCTIONS.ListTenants)).not.toHaveProperty(CLOUD_VARIABLES.cluster);
    expect(variablesOf(FUNCTIONS.ListTenants)).not.toHaveProperty(CLOUD_VARIABLES.provisionStateMachineArn);
    expect(variablesOf(FUNCTIONS.CreateTenant)).toHaveProperty(CLOUD_VARIABLES.provisionStateMachineArn);
    expect(variablesOf(FUNCTIONS.StartTenantCompute)).toEqual(
      expect.objectContaining({ [CLOUD_VARIABLES.cluster]: expect.anything(), [CLOUD_VARIABLES.tenantImage]: expect.anything() }),
    );
    expect(variablesOf(FUNCTIONS.Publish)).toEqual(
      expect.objectContaining({ [CLOUD_VARIABLES.appFilesMount]: '/mnt/hostplane', [CLOUD_VARIABLES.caches]: expect.anything() }),
    );
    const cells = JSON.parse(String(variablesOf(FUNCTIONS.ValidateTenantRequest)[CLOUD_VARIABLES.cells])) as { cell: string; maxTenants: number; limits: Record<string, number> }[];
    // Six caches of 98 tenants' users each: the fleet's memory (576) binds first.
    expect(cells).toEqual([
      {
        cell: 'c1',
        maxTenants: 576,
        limits: expect.objectContaining({ 'ElastiCache users per user group (100, 6 caches)': 588, 'Aurora connections at 16 ACU (6 a pooled tenant)': 592 }),
        caches: 6,
        tenantsPerCache: 98,
      },
    ]);
  });

  it('runs in the cell VPC, with the EFS mount, only the Lambdas that need it', () => {
    const inVpc = Object.values(lambdas).filter((fn) => fn.Properties['VpcConfig'] !== undefined).map((fn) => fn.Properties['Description']);
    expect(inVpc).toEqual(expect.arrayContaining([FUNCTIONS.Publish, FUNCTIONS.Compile, FUNCTIONS.CreateTenantDatabase]));
    expect(inVpc).not.toContain(FUNCTIONS.ListTenants);
    expect(inVpc).not.toContain(FUNCTIONS.StartTenantCompute);
    expect(lambdas[lambdaOf(FUNCTIONS.Compile)]!.Properties['FileSystemConfigs']).toEqual([expect.objectContaining({ LocalMountPath: '/mnt/hostplane' })]);
    expect(lambdas[lambdaOf(FUNCTIONS.CreateTenantDatabase)]!.Properties['FileSystemConfigs']).toBeUndefined();
  });

  it('serves every API route through its Lambda behind the Cognito authorizer', () => {
    const methods = template.findResources('AWS::ApiGateway::Method');
    const served = Object.values(methods)
      .map((m) => m.Properties as { HttpMethod: string; AuthorizationType: string; Integration?: { Uri?: unknown } })
      .filter((m) => m.HttpMethod !== 'OPTIONS');
    expect(served).toHaveLength(API_ROUTES.length);
    for (const method of served) expect(method.AuthorizationType).toBe('COGNITO_USER_POOLS');
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestModels: { 'application/json': Match.anyValue() },
      RequestValidatorId: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      Name: 'ProvisionRequest',
      Schema: Match.objectLike({ required: ['tenantId'], additionalProperties: false }),
    });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })]),
      TracingEnabled: true,
    });
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
    });
  });

  it("lets the console's origin, and it alone, read API answers: from the functions, and from API Gateway's own errors", () => {
    expect(variablesOf(FUNCTIONS.ListTenants)).toHaveProperty(CLOUD_VARIABLES.consoleOrigin);
    expect(variablesOf(FUNCTIONS.Publish)).not.toHaveProperty(CLOUD_VARIABLES.consoleOrigin);
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseParameters: Match.objectLike({ 'gatewayresponse.header.Access-Control-Allow-Origin': Match.anyValue() }),
      });
    }
    template.hasOutput('ConsoleUrl', Match.anyValue());
    template.hasOutput('ApiUrl', Match.anyValue());
  });

  it('keeps backups in an encrypted, versioned, private bucket that outlives the stack', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      }),
    });
  });

  it('runs the final backup as the BackupTenant job on the cell cluster, and lets deprovision run exactly that task', () => {
    const [, deprovision] = machine('Deprovision');
    const substitutions = deprovision.Properties['DefinitionSubstitutions'] as Record<string, unknown>;
    expect(Object.keys(substitutions)).toEqual(expect.arrayContaining(['BackupTenantTaskDefinitionArn', 'CellClusterArn', 'CellCapacityProviderName']));
    const taskDefinition = (substitutions['BackupTenantTaskDefinitionArn'] as { Ref: string }).Ref;
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['EC2'],
      NetworkMode: 'bridge',
      ContainerDefinitions: [Match.objectLike({ Name: 'job', Environment: Match.arrayWith([{ Name: 'HOSTPLANE_JOB', Value: 'BackupTenant' }]) })],
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: arnOf(deprovision.Properties['RoleArn']) }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'ecs:RunTask', Resource: { Ref: taskDefinition }, Condition: Match.anyValue() })]),
      },
    });
  });

  /** Every Allow and Deny statement of the policies attached to the role of the Lambda bundled from `entry`. */
  const statementsOf = (entry: string): PolicyStatementJson[] => {
    const role = (lambdas[lambdaOf(entry)]!.Properties['Role'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return Object.values(template.findResources('AWS::IAM::Policy') as Record<string, CfnResource>)
      .filter((policy) => (policy.Properties['Roles'] as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: role })))
      .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: PolicyStatementJson[] }).Statement);
  };
  const actionsIn = (statement: PolicyStatementJson): string[] => [statement.Action].flat();

  describe('tenant task roles', () => {
    const computeFunctions = [FUNCTIONS.StartTenantCompute, FUNCTIONS.RemoveTenantCompute, FUNCTIONS.CompensateProvision, FUNCTIONS.FixDrift];
    let boundaryId: string;
    let boundary: { Statement: PolicyStatementJson[] };

    beforeAll(() => {
      const policies = Object.entries(template.findResources('AWS::IAM::ManagedPolicy') as Record<string, CfnResource>).filter(([, policy]) =>
        String(policy.Properties['ManagedPolicyName']).endsWith('-tenant-task-boundary'),
      );
      expect(policies).toHaveLength(1);
      boundaryId = policies[0]![0];
      boundary = policies[0]![1].Properties['PolicyDocument'] as { Statement: PolicyStatementJson[] };
    });

    it('bounds them by a managed policy that allows only tenant secrets, tenant bucket objects and app files through an access point, and nothing of IAM', () => {
      expect(boundary.Statement.flatMap(actionsIn).sort()).toEqual([
        'elasticfilesystem:ClientMount',
        'elasticfilesystem:ClientWrite',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'secretsmanager:GetSecretValue',
      ]);
      expect(boundary.Statement.every((statement) => statement.Effect === 'Allow' && !JSON.stringify(statement.Resource).includes('"*"'))).toBe(true);
      expect(boundary.Statement.find((statement) => actionsIn(statement).includes('elasticfilesystem:ClientMount'))?.Condition).toEqual({
        Null: { 'elasticfilesystem:AccessPointArn': 'false' },
      });
    });

    it.each(computeFunctions)('lets %s create a role or write its policy only with that boundary on it', (entry) => {
      const statements = statementsOf(entry);
      const creating = statements.filter((statement) => actionsIn(statement).some((action) => action === 'iam:CreateRole' || action === 'iam:PutRolePolicy'));

      expect(variablesOf(entry)[CLOUD_VARIABLES.tenantPermissionsBoundaryArn]).toEqual({ Ref: boundaryId });
      expect(creating).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Action: ['iam:CreateRole', 'iam:PutRolePolicy'],
          Condition: { StringEquals: { 'iam:PermissionsBoundary': { Ref: boundaryId } } },
        }),
      ]);
    });

    it.each(computeFunctions)('lets %s pass tenant roles to ECS tasks alone, and change no boundary or policy of IAM', (entry) => {
      const statements = statementsOf(entry);
      const iamActions = statements.flatMap(actionsIn).filter((action) => action.startsWith('iam:'));
      const passing = statements.filter((statement) => actionsIn(statement).includes('iam:PassRole'));

      expect(iamActions.filter((action) => action.includes('*') || /PermissionsBoundary|Attach|Detach|PolicyVersion|CreatePolicy|DeletePolicy|User|Group/.test(action))).toEqual([]);
      expect(passing).toEqual([expect.objectContaining({ Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } })]);
      expect(JSON.stringify(passing[0]!.Resource)).toContain(':role/hostplane/test/*');
    });
  });

  it('mounts the app files only through the admin access point (ClientMount conditioned on it), and writes through that mount', () => {
    for (const entry of [FUNCTIONS.Publish, FUNCTIONS.Compile, FUNCTIONS.RemoveAppFiles]) {
      const efs = statementsOf(entry).filter((statement) => actionsIn(statement).some((action) => action.startsWith('elasticfilesystem:Client')));
      const mount = efs.filter((statement) => actionsIn(statement).includes('elasticfilesystem:ClientMount'));

      expect(mount).toEqual([expect.objectContaining({ Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': expect.anything() } } })]);
      expect(JSON.stringify(mount[0]!.Condition)).toContain('AdminAccessPoint');
      expect(efs.flatMap(actionsIn).sort()).toEqual(['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite']);
    }
  });

  describe('the time budget of the deprovision machine', () => {
    const deprovision = JSON.parse(readFileSync(join(STATEMACHINES_DIR, 'deprovision.asl.json'), 'utf8')) as TimedMachine;
    const backup = deprovision.States['BackupTenant']!;

    it('times the BackupTenant job out after JOB_TIMEOUT_SECONDS, clearly before the machine, leaving room for every state after it', () => {
      const after = Math.max(...[backup.Next!, ...(backup.Catch ?? []).map((c) => c.Next!)].map((next) => longestRunSeconds(deprovision, next)));
      const before = longestRunSeconds(deprovision) - longestRunSeconds(deprovision, 'BackupTenant');

      expect(jobOfState(backup)).toBe('BackupTenant');
      expect(backup.TimeoutSeconds).toBe(JOB_TIMEOUT_SECONDS.BackupTenant);
      expect(after).toBeGreaterThan(0);
      expect(deprovision.TimeoutSeconds).toBeGreaterThanOrEqual(before + JOB_TIMEOUT_SECONDS.BackupTenant + after);
      expect(jobTimeBudgetProblems(deprovision)).toEqual([]);
    });

    it('names the problem when a job could use up the whole machine, or its timeout drifts from the constant', () => {
      const tooShort = { ...deprovision, TimeoutSeconds: JOB_TIMEOUT_SECONDS.BackupTenant };
      const drifted = { ...deprovision, States: { ...deprovision.States, BackupTenant: { ...backup, TimeoutSeconds: 600 } } };

      expect(jobTimeBudgetProblems(tooShort)).toEqual([expect.stringContaining(`the machine's TimeoutSeconds (${JOB_TIMEOUT_SECONDS.BackupTenant}) is shorter than its longest run`)]);
      expect(jobTimeBudgetProblems(drifted)).toEqual([expect.stringContaining('BackupTenant runs BackupTenant with TimeoutSeconds 600, not JOB_TIMEOUT_SECONDS.BackupTenant')]);
    });
  });

  describe.each(['Provision', 'Deploy', 'Deprovision'])('the %s state machine', (name) => {
  let stateMachine: CfnResource;
  beforeAll(() => {
    stateMachine = machine(name)[1];
  });

  it('supplies every placeholder of the definition and no substitution it does not use', () => {
    const definition = stateMachine.Properties['DefinitionString'];
    const substitutions = stateMachine.Properties['DefinitionSubstitutions'] as Record<string, unknown>;

    expect(typeof definition).toBe('string');
    const placeholders = new Set([...(definition as string).matchAll(/\$\{([^}]*)\}/g)].map(([, key]) => key));
    expect([...placeholders].sort()).toEqual(Object.keys(substitutions).sort());
  });

  it('substitutes each ${<Name>FunctionArn} with the ARN of the Lambda bundled from FUNCTIONS[Name]', () => {
    const substitutions = stateMachine.Properties['DefinitionSubstitutions'] as Record<string, unknown>;

    for (const [key, value] of Object.entries(substitutions)) {
      if (!key.endsWith('FunctionArn')) continue;
      const name = key.replace(/FunctionArn$/, '');
      expect(isFunctionName(name)).toBe(true);
      const logicalId = arnOf(value);
      expect(logicalId).toBeDefined();
      expect(lambdas[logicalId!]?.Properties['Description']).toBe(FUNCTIONS[name as keyof typeof FUNCTIONS]);
    }
  });

  it('lets the state machine role invoke exactly the Lambdas its definition names', () => {
    const role = arnOf(stateMachine.Properties['RoleArn']);
    const statements = new Capture();
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: role }],
      PolicyDocument: { Statement: statements },
    });

    const named = Object.entries(stateMachine.Properties['DefinitionSubstitutions'] as Record<string, unknown>)
      .filter(([key]) => key.endsWith('FunctionArn'))
      .map(([, value]) => arnOf(value));
    for (const logicalId of named) {
      expect(logicalId).toBeDefined();
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: role }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: Match.arrayWith([{ 'Fn::GetAtt': [logicalId, 'Arn'] }]) }),
          ]),
        },
      });
    }

    const invoked = (statements.asArray() as { Action: unknown; Resource: unknown }[])
      .filter((statement) => statement.Action === 'lambda:InvokeFunction')
      .flatMap((statement) => (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]))
      .map(arnOf)
      .filter((id) => id !== undefined);
    expect([...new Set(invoked)].sort()).toEqual([...new Set(named)].sort());
  });

  it('gives each Task Lambda at least the TimeoutSeconds of the states that invoke it', () => {
    const substitutions = stateMachine.Properties['DefinitionSubstitutions'] as Record<string, unknown>;
    const definition = stateMachine.Properties['DefinitionString'] as string;
    const tasks = [...definition.matchAll(/"Resource": "\$\{(\w+)\}",[\s\S]*?"TimeoutSeconds": (\d+)/g)];

    expect(tasks.length).toBeGreaterThan(0);
    for (const [, key, seconds] of tasks) {
      const fn = lambdas[arnOf(substitutions[key!])!]!;
      expect(fn.Properties['Timeout']).toBeGreaterThanOrEqual(Number(seconds));
    }
  });

  it('logs the state machine to a one-month log group, without execution data', () => {
    const logging = stateMachine.Properties['LoggingConfiguration'] as {
      Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: unknown } }[];
      IncludeExecutionData: boolean;
      Level: string;
    };
    expect(logging).toMatchObject({ IncludeExecutionData: false, Level: 'ALL' });
    const logGroup = arnOf(logging.Destinations[0]?.CloudWatchLogsLogGroup.LogGroupArn);

    expect(logGroup).toBeDefined();
    expect(template.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } })).toHaveProperty([logGroup!]);
  });
  });
});
