import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, CfnOutput, Duration, Lazy, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { Grant, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { TaskDefinition } from 'aws-cdk-lib/aws-ecs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { DefinitionBody, LogLevel, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { scopeSchema } from '../lambdas/domain/naming.js';
import { functionOfPlaceholder } from '../lambdas/functions.js';
import { CELL_SUBSTITUTIONS, ECS_RUN_TASK_SYNC, cellSubstitutionOfPlaceholder, jobOfPlaceholder, type CellSubstitution, type JobName } from '../lambdas/jobs.js';
import type { FunctionName } from '../lambdas/functions.js';
import { START_EXECUTION_SYNC, WORKFLOW_NAMES, stateMachineSubstitution, workflowOfPlaceholder, type WorkflowName } from '../lambdas/ports/workflows.js';
import { cellNames } from './cell/cell-names.js';
import { acknowledgeWildcards, allow, allowWithWildcards, arnIn, type ControlPlaneCell } from './control-plane/cell-access.js';
import { ControlPlaneApi } from './control-plane/control-plane-api.js';
import { ConsoleHosting } from './control-plane/console-hosting.js';
import { ControlPlaneFunctions, type EdgeSettings } from './control-plane/control-plane-functions.js';
import { JobTaskDefinitions } from './control-plane/job-task-definitions.js';
import { jobTimeBudgetProblems, type TimedMachine } from './control-plane/job-time-budget.js';
import { JOB_ACCESS } from './function-access.js';
import { acknowledgeCfnLint, DEPENDS_ON_ITS_ROLE_REASON } from './cfn-lint-acknowledgements.js';
import { REPOSITORY_ROOT, type HostplaneFunction } from './hostplane-function.js';
import { PlatformEventRules } from './platform-event-rules.js';
import { REGISTRY_BOOTSTRAP_TIMEOUT_SECONDS, RegistryBootstrap } from './control-plane/registry-bootstrap.js';

export const STATEMACHINES_DIR = join(REPOSITORY_ROOT, 'statemachines');

const S3_ACCESS_LOGS_BY_BUCKET_POLICY = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

export interface ControlPlaneStackProps extends StackProps {
  /** The environment this copy of the control plane serves (dev, prod, a test run); the rule of `scopeSchema`. */
  readonly environment: string;
  /** The cell whose tenants it manages (`CellStack.resources`); its Aurora also holds the registry. */
  readonly cell: ControlPlaneCell;
  /** How tenants are fronted: CloudFront mode, their domain and its hosted zone. */
  readonly edge: EdgeSettings;
  /** Most tenants the cell admits, and the per-cell limits behind that number, named when a tenant is refused. */
  /** `tenantsPerCache`: how many tenants' users one of the cell's caches holds. @default no limit */
  readonly placement: { readonly maxTenants: number; readonly limits: Readonly<Record<string, number>>; readonly tenantsPerCache?: number };
  /**
   * Requests per second the API admits, and the burst above it.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly apiThrottling?: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default 90 */
  readonly healthWaitSeconds?: number;
  /** @default 30 */
  readonly backupRetentionDays?: number;
}

/** The state machines, by workflow. */
export interface ControlPlaneStateMachines {
  readonly provision: StateMachine;
  readonly deploy: StateMachine;
  readonly deprovision: StateMachine;
  /** Backups, restores and exports on request (an operation each). */
  readonly backup: StateMachine;
}

/**
 * The control plane of one environment: one Lambda per entry of `FUNCTIONS` with exactly the access
 * it needs (`ControlPlaneFunctions`); the provision, deploy, deprovision and backup state machines from
 * `statemachines/*.asl.json`, each allowed to invoke exactly the Lambdas its Tasks name (and provision
 * to run deploy to completion); the operators' API behind Cognito; the EventBridge rules; the bucket
 * of per-tenant backups. The tenant registry lives in the cell's Aurora, reached through the Data API.
 */
export class ControlPlaneStack extends Stack {
  public readonly functions: Readonly<Record<FunctionName, HostplaneFunction>>;
  public readonly stateMachines: ControlPlaneStateMachines;
  public readonly eventRules: PlatformEventRules;
  public readonly api: ControlPlaneApi;
  /** The operators' console, from S3 behind CloudFront. */
  public readonly console: ConsoleHosting;
  public readonly backupBucket: Bucket;
  /** The ECS task definitions of the jobs (`lambdas/jobs.ts`), run on the cell's cluster. */
  public readonly jobs: Readonly<Record<JobName, TaskDefinition>>;
  /** The registry created and migrated at deploy time (ADR 0008); what serves requests depends on it. */
  public readonly registry: RegistryBootstrap;
  private readonly cell: ControlPlaneCell;
  private readonly hostplaneEnvironment: string;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    // Server access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL (which
    // needs ACLs on): CDK's flag for it, set here so that every way of building the stack agrees.
    this.node.setContext(S3_ACCESS_LOGS_BY_BUCKET_POLICY, true);
    this.cell = props.cell;
    const environment = scopeSchema.shape.environment.parse(props.environment);
    this.hostplaneEnvironment = environment;
    Tags.of(this).add('hostplane:environment', environment);

    const asl = {
      provision: readAslFile('provision'),
      deploy: readAslFile('deploy'),
      deprovision: readAslFile('deprovision'),
      backup: readAslFile('backup'),
    };
    const stateMachineNames = Object.fromEntries(WORKFLOW_NAMES.map((workflow) => [workflow, this.stateMachineName(workflow)])) as Record<
      WorkflowName,
      string
    >;

    const backupAccessLogs = new Bucket(this, 'BackupAccessLogs', {
      // S3 delivers server access logs only to an SSE-S3 bucket.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      // Who read or wrote a tenant's backup is evidence: kept when the stack goes, expired by the lifecycle rule.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(backupAccessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: "This bucket holds the backup bucket's access logs; logging its own accesses would need another bucket for no gain.",
    });
    this.backupBucket = new Bucket(this, 'Backups', {
      encryption: BucketEncryption.S3_MANAGED,
      serverAccessLogsBucket: backupAccessLogs,
      serverAccessLogsPrefix: 'backups/',
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      // A deleted object stays recoverable for a week; the registry decides what a backup's lifetime is.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(7), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      // Tenants' backups are data: kept when the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The console's URL is known once its distribution exists, which the API's CORS and the functions'
    // environment need before: a lazy value breaks the circle (nothing in the distribution depends on them).
    const consoleRef: { hosting?: ConsoleHosting } = {};
    const consoleOrigin = Lazy.string({ produce: () => consoleRef.hosting!.url });
    const functions = new ControlPlaneFunctions(this, 'Functions', {
      environment,
      consoleOrigin,
      cell: props.cell,
      placement: props.placement,
      edge: props.edge,
      backupBucket: this.backupBucket,
      taskTimeouts: mergeTimeouts(
        asl.provision.taskTimeouts,
        asl.deploy.taskTimeouts,
        asl.deprovision.taskTimeouts,
        asl.backup.taskTimeouts,
        // Not a Task: the registry's custom resource waits for it (through a cold Aurora resume).
        new Map<FunctionName, number>([['BootstrapRegistry', REGISTRY_BOOTSTRAP_TIMEOUT_SECONDS]]),
      ),
      stateMachineNames,
      healthWaitSeconds: props.healthWaitSeconds,
      backupRetentionDays: props.backupRetentionDays,
    });
    this.functions = functions.functions;

    const jobs = new JobTaskDefinitions(this, 'Jobs', { environment: (job) => functions.environmentFor(JOB_ACCESS[job]) });
    this.jobs = jobs.taskDefinitions;
    for (const [job, taskDefinition] of Object.entries(this.jobs) as [JobName, TaskDefinition][]) {
      props.cell.database.cluster.grantDataApiAccess(taskDefinition.taskRole);
      for (const kind of JOB_ACCESS[job]) functions.grant(taskDefinition.taskRole, kind);
    }

    const deployMachine = this.aslStateMachine('Deploy', stateMachineNames.deploy, asl.deploy, {});
    acknowledgeCfnLint(
      deployMachine,
      'E3601',
      'cfn-lint 1.58 refuses OutputPath on a Succeed state (DeploySucceeded), which the Amazon States Language allows; every ASL file is validated against the language by asl-validator in test/statemachines.',
    );
    this.stateMachines = {
      deploy: deployMachine,
      provision: this.aslStateMachine('Provision', stateMachineNames.provision, asl.provision, { deploy: deployMachine }),
      deprovision: this.aslStateMachine('Deprovision', stateMachineNames.deprovision, asl.deprovision, {}),
      backup: this.aslStateMachine('Backup', stateMachineNames.backup, asl.backup, {}),
    };
    this.eventRules = new PlatformEventRules(this, 'EventRules', {
      executionStatusChanged: this.functions.ExecutionStatusChanged,
      appDefinitionChanged: this.functions.AppDefinitionChanged,
      reconcileTenants: this.functions.ReconcileTenants,
      stateMachines: Object.values(this.stateMachines),
    });
    this.api = new ControlPlaneApi(this, 'Api', { environment, functions: this.functions, throttling: props.apiThrottling, consoleOrigin });
    this.console = consoleRef.hosting = new ConsoleHosting(this, 'Console', {
      environment,
      api: this.api.api,
      userPool: this.api.userPool,
      userPoolClient: this.api.userPoolClient,
    });
    // Nothing serves before the registry exists and is migrated: the machines, the event rules and the API's stage wait for it.
    this.registry = new RegistryBootstrap(this, 'Registry', { environment, handler: this.functions.BootstrapRegistry });
    // CDK's custom resource framework function (the Provider construct's onEvent) depends on its role like ours do.
    const framework = this.registry.node.tryFindChild('Provider')?.node.tryFindChild('framework-onEvent');
    if (framework) acknowledgeCfnLint(framework, 'W3005', DEPENDS_ON_ITS_ROLE_REASON);
    for (const consumer of [...Object.values(this.stateMachines), this.eventRules, this.api.api.deploymentStage]) {
      consumer.node.addDependency(this.registry.resource);
    }
    new CfnOutput(this, 'ConsoleUrl', { value: this.console.url, description: "The operators' console" });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'The control-plane API (Cognito-authorized)' });
    new CfnOutput(this, 'UserPoolId', { value: this.api.userPool.userPoolId, description: 'Where operators are invited' });
    new CfnOutput(this, 'UserPoolClientId', { value: this.api.userPoolClient.userPoolClientId });
    new CfnOutput(this, 'BackupBucketName', { value: this.backupBucket.bucketName });
  }

  /**
   * A state machine from an ASL file: every `${<Name>FunctionArn}` is supplied as a definition
   * substitution and the role may invoke those functions and no other. The definition is inlined
   * (`fromString`, not `fromFile`, which would upload it as an S3 asset) so the template shows it.
   * Its name is fixed, so functions find it by an ARN derived from the name, not by a reference that
   * would make the machine and the functions depend on each other.
   */
  private aslStateMachine(id: string, name: string, asl: AslFile, children: Partial<Record<WorkflowName, StateMachine>>): StateMachine {
    const childOf = (workflow: WorkflowName): StateMachine => {
      const child = children[workflow];
      if (!child) throw new Error(`${id}: its definition runs the ${workflow} state machine, which is not built before it`);
      return child;
    };
    const logGroup = new LogGroup(this, `${id}Logs`, {
      logGroupName: `/aws/vendedlogs/states/${name}`,
      retention: RetentionDays.ONE_MONTH,
      // Execution logs are scratch: what a tenant operation did is recorded in the registry.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stateMachine = new StateMachine(this, `${id}StateMachine`, {
      stateMachineName: name,
      definitionBody: DefinitionBody.fromString(asl.text),
      definitionSubstitutions: {
        ...Object.fromEntries([...asl.functions].map((fn) => [`${fn}FunctionArn`, this.functions[fn].functionArn])),
        ...Object.fromEntries([...asl.workflows].map((workflow) => [stateMachineSubstitution(workflow), childOf(workflow).stateMachineArn])),
        ...Object.fromEntries([...asl.jobs].map((job) => [`${job}TaskDefinitionArn`, this.jobs[job].taskDefinitionArn])),
        ...Object.fromEntries([...asl.cell].map((name) => [name, this.cellSubstitution(name)])),
      },
      // Transitions only: execution data holds tenant requests and plans.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    acknowledgeCfnLint(stateMachine, 'W3005', DEPENDS_ON_ITS_ROLE_REASON);
    acknowledgeWildcards(
      stateMachine,
      allow(['logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries',
        'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups'], ['*']),
      'What CDK grants a state machine to deliver its logs to CloudWatch Logs: the log-delivery calls take no resource ARN.',
    );
    acknowledgeWildcards(
      stateMachine,
      allow(['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'], ['*']),
      'Tracing: the X-Ray calls take no resource ARN.',
    );
    // The Tasks invoke the unqualified ARNs, so no version or alias (`<arn>:*`, which grantInvoke adds) is allowed.
    Grant.addToPrincipal({
      grantee: stateMachine,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [...asl.functions].map((fn) => this.functions[fn].functionArn),
    });
    for (const workflow of asl.workflows) this.grantRunToCompletion(stateMachine, childOf(workflow), this.stateMachineName(workflow));
    for (const job of asl.jobs) this.grantRunJob(stateMachine, this.jobs[job]);
    return stateMachine;
  }

  /** A state machine's fixed name: its ARN (and its executions') can be written before it exists. */
  private stateMachineName(workflow: WorkflowName): string {
    return `hostplane-${this.hostplaneEnvironment}-${workflow}`;
  }

  private cellSubstitution(name: CellSubstitution): string {
    switch (name) {
      case 'CellClusterArn':
        return this.cell.cluster.clusterArn;
      case 'CellCapacityProviderName':
        return this.cell.capacityProviderName;
    }
  }

  /**
   * What `ecs:runTask.sync` needs: run the job's task definition on the cell's cluster, pass its roles
   * to ECS, watch and stop the task, and the managed EventBridge rule through which Step Functions
   * learns that the task stopped.
   */
  private grantRunJob(stateMachine: StateMachine, taskDefinition: TaskDefinition): void {
    const onCluster = { ArnEquals: { 'ecs:cluster': this.cell.cluster.clusterArn } };
    stateMachine.addToRolePolicy(new PolicyStatement({ actions: ['ecs:RunTask'], resources: [taskDefinition.taskDefinitionArn], conditions: onCluster }));
    // The cluster by its derived name, not the cell stack's export, so the wildcard reads the same in the template and its acknowledgement.
    const clusterName = cellNames({ environment: this.hostplaneEnvironment, cell: this.cell.cell }).prefix;
    allowWithWildcards(
      stateMachine,
      allow(['ecs:StopTask', 'ecs:DescribeTasks'], [arnIn(this, 'ecs', 'task', `${clusterName}/*`)]),
      "A task's id is known only once RunTask returns it; these reach the tasks of the cell's cluster only.",
    );
    taskDefinition.taskRole.grantPassRole(stateMachine.role);
    taskDefinition.obtainExecutionRole().grantPassRole(stateMachine.role);
    stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [Stack.of(this).formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForECSTaskRule' })],
      }),
    );
  }

  /**
   * What `states:startExecution.sync:2` needs: start the child, describe and stop its executions,
   * and the managed EventBridge rule through which Step Functions learns that the child ended.
   */
  private grantRunToCompletion(parent: StateMachine, child: StateMachine, childName: string): void {
    child.grantStartExecution(parent.role);
    // As the Step Functions IAM guide writes it for a nested .sync execution: execution:<name>:*.
    allowWithWildcards(
      parent,
      allow(['states:DescribeExecution', 'states:StopExecution'], [arnIn(this, 'states', 'execution', `${childName}:*`, { sep: ArnFormat.COLON_RESOURCE_NAME })]),
      `An execution is named when it starts; this reaches the executions of ${childName} only.`,
    );
    parent.addToRolePolicy(
      new PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          Stack.of(this).formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule' }),
        ],
      }),
    );
  }
}

interface AslState {
  readonly Type?: string;
  readonly Resource?: string;
  readonly TimeoutSeconds?: number;
  readonly Branches?: readonly AslMachine[];
  readonly Iterator?: AslMachine;
  readonly ItemProcessor?: AslMachine;
}

interface AslMachine {
  readonly States: Readonly<Record<string, AslState>>;
}

interface AslFile {
  readonly text: string;
  /** The functions the file's placeholders name. */
  readonly functions: ReadonlySet<FunctionName>;
  /** The state machines it runs to completion (`${<Workflow>StateMachineArn}` in a startExecution.sync Task). */
  readonly workflows: ReadonlySet<WorkflowName>;
  /** The jobs it runs as ECS tasks (`${<Job>TaskDefinitionArn}` in an ecs:runTask.sync Task). */
  readonly jobs: ReadonlySet<JobName>;
  /** The cell's values it names (`${CellClusterArn}`…). */
  readonly cell: ReadonlySet<CellSubstitution>;
  /** Function → the longest `TimeoutSeconds` of the Task states that invoke it. */
  readonly taskTimeouts: ReadonlyMap<FunctionName, number>;
}

/**
 * Reads `statemachines/<name>.asl.json`; a placeholder that names no function of `FUNCTIONS` (nor
 * another state machine) stops synthesis.
 */
function readAslFile(name: string): AslFile {
  const file = join(STATEMACHINES_DIR, `${name}.asl.json`);
  const text = readFileSync(file, 'utf8');
  const functions = new Set<FunctionName>();
  const workflows = new Set<WorkflowName>();
  const jobs = new Set<JobName>();
  const cell = new Set<CellSubstitution>();
  for (const [placeholder] of text.matchAll(/\$\{[^}]*\}/g)) {
    const fn = functionOfPlaceholder(placeholder);
    const workflow = workflowOfPlaceholder(placeholder);
    const job = jobOfPlaceholder(placeholder);
    const cellValue = cellSubstitutionOfPlaceholder(placeholder);
    if (fn) functions.add(fn);
    else if (workflow) workflows.add(workflow);
    else if (job) jobs.add(job);
    else if (cellValue) cell.add(cellValue);
    else {
      throw new Error(
        `${file}: ${placeholder} is none of \${<Name>FunctionArn} (FUNCTIONS), \${<Workflow>StateMachineArn}, \${<Job>TaskDefinitionArn} (JOBS), ${CELL_SUBSTITUTIONS.map((n) => `\${${n}}`).join(', ')}`,
      );
    }
  }
  if (workflows.size > 0 && !text.includes(START_EXECUTION_SYNC)) {
    throw new Error(`${file}: names a state machine but never runs one with ${START_EXECUTION_SYNC}`);
  }
  if (jobs.size > 0 && !text.includes(ECS_RUN_TASK_SYNC)) {
    throw new Error(`${file}: names a job but never runs one with ${ECS_RUN_TASK_SYNC}`);
  }
  const budget = jobTimeBudgetProblems(JSON.parse(text) as TimedMachine);
  if (budget.length > 0) throw new Error(`${file}: ${budget.join('; ')}`);
  const taskTimeouts = new Map<FunctionName, number>();
  for (const state of nestedStates(JSON.parse(text) as AslMachine)) {
    const fn = state.Type === 'Task' ? functionOfPlaceholder(state.Resource ?? '') : undefined;
    if (fn && state.TimeoutSeconds !== undefined) {
      taskTimeouts.set(fn, Math.max(taskTimeouts.get(fn) ?? 0, state.TimeoutSeconds));
    }
  }
  return { text, functions, workflows, jobs, cell, taskTimeouts };
}

function mergeTimeouts(...maps: ReadonlyMap<FunctionName, number>[]): Map<FunctionName, number> {
  const merged = new Map<FunctionName, number>();
  for (const map of maps) for (const [fn, seconds] of map) merged.set(fn, Math.max(merged.get(fn) ?? 0, seconds));
  return merged;
}

function nestedStates(machine: AslMachine): AslState[] {
  return Object.values(machine.States).flatMap((state) => [
    state,
    ...[...(state.Branches ?? []), ...(state.Iterator ? [state.Iterator] : []), ...(state.ItemProcessor ? [state.ItemProcessor] : [])].flatMap(
      nestedStates,
    ),
  ]);
}
