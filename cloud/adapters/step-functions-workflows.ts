import { isDeepStrictEqual } from 'node:util';
import { DescribeExecutionCommand, StartExecutionCommand, type DescribeExecutionCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';
import { ConflictError, TransientError, ValidationError } from '../../lambdas/domain/errors.js';
import { WORKFLOW_NAMES, type WorkflowInput, type WorkflowName, type WorkflowsPort } from '../../lambdas/ports/workflows.js';
import { isAwsError, toDomainError } from './aws-errors.js';

/** StartExecution's limit on `input`: 262,144 bytes of UTF-8 (the 256 KiB payload quota). */
export const EXECUTION_INPUT_LIMIT_BYTES = 256 * 1024;

/** An unqualified state machine ARN (no version or alias), from which an execution's ARN can be derived. */
const STATE_MACHINE_ARN = /^(arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

export interface StepFunctionsWorkflowsOptions {
  readonly client: SFNClient;
  /** The ARN of each workflow's state machine (unqualified: no version or alias). */
  readonly stateMachineArns: Readonly<Record<WorkflowName, string>>;
}

/**
 * The workflows port on AWS Step Functions (Standard workflows). The execution name is the
 * operation id, so starting the same operation twice yields the one execution it started.
 */
export class StepFunctionsWorkflows implements WorkflowsPort {
  private readonly client: SFNClient;
  private readonly stateMachineArns: Readonly<Record<WorkflowName, string>>;

  constructor(options: StepFunctionsWorkflowsOptions) {
    for (const workflow of WORKFLOW_NAMES) {
      const arn = options.stateMachineArns[workflow];
      if (typeof arn !== 'string' || !STATE_MACHINE_ARN.test(arn)) {
        throw new Error(`the ${workflow} state machine ARN ${JSON.stringify(arn)} is not an unqualified Step Functions state machine ARN`);
      }
    }
    this.client = options.client;
    this.stateMachineArns = options.stateMachineArns;
  }

  async start(workflow: WorkflowName, executionName: string, input: WorkflowInput): Promise<{ executionId: string }> {
    const stateMachineArn = this.stateMachineArns[workflow];
    const json = JSON.stringify(input);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > EXECUTION_INPUT_LIMIT_BYTES) {
      throw new ValidationError('input', `the ${workflow} input is ${bytes} bytes, over Step Functions' ${EXECUTION_INPUT_LIMIT_BYTES}-byte limit`);
    }
    const doing = `starting the ${workflow} execution ${executionName}`;
    try {
      // Same name and input while the execution runs: Step Functions answers with that execution.
      const started = await this.client.send(new StartExecutionCommand({ stateMachineArn, name: executionName, input: json }));
      return { executionId: required(started.executionArn, doing) };
    } catch (error) {
      // Once it has ended, or with another input, the name is refused with ExecutionAlreadyExists
      // (StartExecution API reference): look the execution up and answer with it.
      if (!isAwsError(error, 'ExecutionAlreadyExists')) throw toDomainError(error, doing);
    }
    return { executionId: await this.existing(stateMachineArn, executionName, input, doing) };
  }

  private async existing(stateMachineArn: string, executionName: string, input: WorkflowInput, doing: string): Promise<string> {
    const executionArn = executionArnOf(stateMachineArn, executionName);
    let described: DescribeExecutionCommandOutput;
    try {
      described = await this.client.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      // Refused as existing, yet not found: not visible yet; the caller's retry will find it.
      if (isAwsError(error, 'ExecutionDoesNotExist')) throw new TransientError(`${doing}: it exists but cannot be described yet`);
      throw toDomainError(error, `${doing}: describing ${executionArn}`);
    }
    if (described.input !== undefined && !isDeepStrictEqual(JSON.parse(described.input) as unknown, JSON.parse(JSON.stringify(input)) as unknown)) {
      throw new ConflictError(`${doing}: an execution of that name already ran with another input`, { executionId: executionArn });
    }
    return required(described.executionArn, doing);
  }
}

/** `arn:…:stateMachine:<machine>` + name → `arn:…:execution:<machine>:<name>`. */
function executionArnOf(stateMachineArn: string, executionName: string): string {
  const [, base, machine] = STATE_MACHINE_ARN.exec(stateMachineArn)!;
  return `${base}:execution:${machine}:${executionName}`;
}

function required(executionArn: string | undefined, doing: string): string {
  if (!executionArn) throw new TransientError(`${doing}: Step Functions answered without an execution ARN`);
  return executionArn;
}
