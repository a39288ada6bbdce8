import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EXECUTION_INPUT_LIMIT_BYTES, StepFunctionsWorkflows } from '../../cloud/adapters/step-functions-workflows.js';
import { ErrorNames } from '../../lambdas/domain/errors.js';

const MACHINES = {
  provision: 'arn:aws:states:eu-west-1:123456789012:stateMachine:hp-dev-provision',
  deploy: 'arn:aws:states:eu-west-1:123456789012:stateMachine:hp-dev-deploy',
  deprovision: 'arn:aws:states:eu-west-1:123456789012:stateMachine:hp-dev-deprovision',
  backup: 'arn:aws:states:eu-west-1:123456789012:stateMachine:hp-dev-backup',
} as const;
const OPERATION = 'op-0193f5d2-7c1a-4b7e-9d0e-acme';
const EXECUTION_ARN = `arn:aws:states:eu-west-1:123456789012:execution:hp-dev-provision:${OPERATION}`;
const INPUT = { tenantId: 'acme', operationId: OPERATION, plan: { memoryMb: 512 } };

const alreadyExists = () => new ExecutionAlreadyExists({ message: `Execution Already Exists: '${EXECUTION_ARN}'`, $metadata: {} });

describe('StepFunctionsWorkflows', () => {
  const sfn = mockClient(SFNClient);
  const workflows = new StepFunctionsWorkflows({ client: new SFNClient({ region: 'eu-west-1' }), stateMachineArns: MACHINES });

  beforeEach(() => {
    sfn.reset();
  });

  it('starts the workflow state machine with the operation id as execution name and the input as JSON', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });

    const started = await workflows.start('provision', OPERATION, INPUT);

    expect(started).toEqual({ executionId: EXECUTION_ARN });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: MACHINES.provision,
      name: OPERATION,
      input: JSON.stringify(INPUT),
    });
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 0);
  });

  it('answers with the existing execution when the name was already used for the same input', async () => {
    sfn.on(StartExecutionCommand).rejects(alreadyExists());
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION_ARN, status: 'SUCCEEDED', input: '{ "tenantId": "acme", "operationId": "' + OPERATION + '", "plan": { "memoryMb": 512 } }' });

    const started = await workflows.start('provision', OPERATION, INPUT);

    expect(started).toEqual({ executionId: EXECUTION_ARN });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
  });

  it('refuses, as a conflict, an execution name already used for another input', async () => {
    sfn.on(StartExecutionCommand).rejects(alreadyExists());
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION_ARN, status: 'RUNNING', input: '{"tenantId":"other"}' });

    await expect(workflows.start('provision', OPERATION, INPUT)).rejects.toMatchObject({
      name: ErrorNames.conflict,
      details: { executionId: EXECUTION_ARN },
    });
  });

  it('says transient when the execution exists but cannot be described yet', async () => {
    sfn.on(StartExecutionCommand).rejects(alreadyExists());
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));

    await expect(workflows.start('provision', OPERATION, INPUT)).rejects.toMatchObject({ name: ErrorNames.transient });
  });

  it('refuses an input over 256 KiB before calling Step Functions', async () => {
    const big = { blob: 'x'.repeat(EXECUTION_INPUT_LIMIT_BYTES) };

    await expect(workflows.start('deploy', OPERATION, big)).rejects.toMatchObject({
      name: ErrorNames.validation,
      message: expect.stringContaining(`over Step Functions' ${EXECUTION_INPUT_LIMIT_BYTES}-byte limit`),
    });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('counts the input limit in UTF-8 bytes, not characters', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });
    const justUnder = { s: 'x'.repeat(EXECUTION_INPUT_LIMIT_BYTES - 8) };
    const overInBytes = { s: 'é'.repeat(EXECUTION_INPUT_LIMIT_BYTES / 2) };

    await expect(workflows.start('deploy', OPERATION, justUnder)).resolves.toEqual({ executionId: EXECUTION_ARN });
    await expect(workflows.start('deploy', OPERATION, overInBytes)).rejects.toMatchObject({ name: ErrorNames.validation });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('turns throttling into a transient error and a missing state machine into a permanent one', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(new SFNServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }))
      .rejects(new StateMachineDoesNotExist({ message: 'State Machine Does Not Exist', $metadata: {} }));

    await expect(workflows.start('deprovision', OPERATION, INPUT)).rejects.toMatchObject({
      name: ErrorNames.transient,
      message: expect.stringContaining(`starting the deprovision execution ${OPERATION}: ThrottlingException`),
    });
    await expect(workflows.start('deprovision', OPERATION, INPUT)).rejects.toMatchObject({ name: ErrorNames.permanent });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: MACHINES.deprovision });
  });

  it('refuses state machine ARNs it cannot derive an execution ARN from', () => {
    const client = new SFNClient({ region: 'eu-west-1' });

    expect(() => new StepFunctionsWorkflows({ client, stateMachineArns: { ...MACHINES, deploy: `${MACHINES.deploy}:live` } })).toThrow('deploy state machine ARN');
    expect(() => new StepFunctionsWorkflows({ client, stateMachineArns: { ...MACHINES, provision: '' } })).toThrow('provision state machine ARN');
  });
});
