import { beforeAll, describe, it, expect } from '@jest/globals';
import { App } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, isFunctionName } from '../../lambdas/functions.js';
import { ControlPlaneStack } from '../../lib/control-plane-stack.js';

/** Synthesis bundles every Lambda with esbuild: done once for the whole file. */
const SYNTH_TIMEOUT_MS = 180_000;

interface CfnResource {
  readonly Type: string;
  readonly Properties: Readonly<Record<string, unknown>>;
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
    const stack = new ControlPlaneStack(new App(), 'ControlPlaneTest', { environment: 'test' });
    template = Template.fromStack(stack);
    lambdas = template.findResources('AWS::Lambda::Function') as Record<string, CfnResource>;
    machines = template.findResources('AWS::StepFunctions::StateMachine') as Record<string, CfnResource>;
  }, SYNTH_TIMEOUT_MS);

  /** The state machine whose logical id starts with `Provision` or `Deploy`. */
  const machine = (name: string): [string, CfnResource] => {
    const found = Object.entries(machines).filter(([id]) => id.startsWith(`${name}StateMachine`));
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('builds the provision, deploy and deprovision state machines', () => {
    expect(Object.keys(machines).map((id) => id.replace(/StateMachine.*$/, '')).sort()).toEqual(['Deploy', 'Deprovision', 'Provision']);
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

  it('runs every Lambda on Node.js 22, arm64, 512 MiB, with source maps and a one-month log group', () => {
    const logGroup = new Capture();
    template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Handler: 'index.handler',
      Environment: { Variables: Match.objectLike({ NODE_OPTIONS: '--enable-source-maps' }) },
      LoggingConfig: { LogGroup: { Ref: logGroup } },
    });

    expect(template.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } })).toHaveProperty([logGroup.asString()]);
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
      if (key.endsWith('StateMachineArn')) continue;
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
