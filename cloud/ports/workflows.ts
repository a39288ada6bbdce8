import { SFNClient } from '@aws-sdk/client-sfn';
import type { WorkflowsPort } from '../../lambdas/ports/workflows.js';
import { StepFunctionsWorkflows } from '../adapters/step-functions-workflows.js';
import type { CloudContext } from '../cloud-context.js';
import { requireVariable } from '../cloud-environment.js';

export function workflowsPort(context: CloudContext): WorkflowsPort {
  const { env } = context;
  const neededFor = 'the workflows port (Step Functions)';
  return new StepFunctionsWorkflows({
    client: context.client('sfn', (c) => new SFNClient(c)),
    stateMachineArns: {
      provision: requireVariable(env, 'provisionStateMachineArn', neededFor),
      deploy: requireVariable(env, 'deployStateMachineArn', neededFor),
      deprovision: requireVariable(env, 'deprovisionStateMachineArn', neededFor),
      backup: requireVariable(env, 'backupStateMachineArn', neededFor),
    },
  });
}
