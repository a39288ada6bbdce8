import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Compatibility, ContainerImage, LogDrivers, NetworkMode, TaskDefinition } from 'aws-cdk-lib/aws-ecs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { JOB_CONTAINER, JOB_NAME_VARIABLE, JOBS, type JobName } from '../../lambdas/jobs.js';
import { CONTEXT_EXCLUDES } from '../cell/tenant-image.js';
import { REPOSITORY_ROOT } from '../hostplane-function.js';

export interface JobTaskDefinitionsProps {
  /** The variables each job's ports need (the same the function of the same access would get). */
  readonly environment: (job: JobName) => Record<string, string>;
  /** @default 1024 */
  readonly memoryMiB?: number;
  /** @default 512 */
  readonly cpu?: number;
}

/**
 * One ECS task definition per job of `lambdas/jobs.ts`, all on one image (`runtime/jobs/Dockerfile`:
 * the handlers and the cloud ports bundled by esbuild), run on the cell's EC2 capacity by Step
 * Functions' `ecs:runTask.sync`. Bridge networking: a job reaches AWS APIs (the Data API, S3) through
 * the instance's network and needs no subnet or security group of its own.
 */
export class JobTaskDefinitions extends Construct {
  public readonly taskDefinitions: Readonly<Record<JobName, TaskDefinition>>;

  constructor(scope: Construct, id: string, props: JobTaskDefinitionsProps) {
    super(scope, id);
    const image = ContainerImage.fromAsset(REPOSITORY_ROOT, { file: 'runtime/jobs/Dockerfile', platform: Platform.LINUX_ARM64, exclude: CONTEXT_EXCLUDES });
    const logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.THREE_MONTHS,
      // What a job did is in the registry; its log is for diagnosis.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const entries = (Object.keys(JOBS) as JobName[]).map((job) => {
      const taskDefinition = new TaskDefinition(this, job, {
        compatibility: Compatibility.EC2,
        networkMode: NetworkMode.BRIDGE,
      });
      taskDefinition.addContainer(JOB_CONTAINER, {
        image,
        essential: true,
        memoryLimitMiB: props.memoryMiB ?? 1024,
        cpu: props.cpu ?? 512,
        // Lambda sets AWS_REGION itself; a container on EC2 is told.
        environment: { ...props.environment(job), [JOB_NAME_VARIABLE]: job, AWS_REGION: Stack.of(this).region },
        logging: LogDrivers.awsLogs({ logGroup, streamPrefix: job }),
        readonlyRootFilesystem: true,
      });
      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason: "The variables are the job's configuration (resource names and ARNs, as its Lambda twin gets); no secret: credentials come from the task role, the database's through the Data API.",
      });
      Validations.of(taskDefinition.obtainExecutionRole()).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken (pulling the job image) takes no resource ARN.',
      });
      return [job, taskDefinition] as const;
    });
    this.taskDefinitions = Object.fromEntries(entries) as Record<JobName, TaskDefinition>;
  }
}
