import { Duration } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { APP_DEFINITION_CHANGED } from '../lambdas/deploy/app-definition-changed.js';
import type { HostplaneFunction } from './hostplane-function.js';

export interface PlatformEventRulesProps {
  /** Closes the operation of an execution that ended without its own steps closing it. */
  readonly executionStatusChanged: HostplaneFunction;
  /** Deploys a changed app definition. */
  readonly appDefinitionChanged: HostplaneFunction;
  /** Compares the registry with what exists (reports only; fixing is a person's call). */
  readonly reconcileTenants: HostplaneFunction;
  /** The machines whose ended executions are watched. */
  readonly stateMachines: readonly StateMachine[];
  /**
   * How often the registry is compared with what exists.
   * @default Duration.hours(1)
   */
  readonly reconcileEvery?: Duration;
}

/**
 * The EventBridge rules the local world mirrors with its in-process bus: an execution that ended
 * abnormally closes its operation, an "App Definition Changed" event deploys, and the drift check
 * runs on a schedule. Lambda targets retry a failed delivery.
 */
export class PlatformEventRules extends Construct {
  public readonly executionEnded: Rule;
  public readonly appDefinitionChanged: Rule;
  public readonly reconcileSchedule: Rule;

  constructor(scope: Construct, id: string, props: PlatformEventRulesProps) {
    super(scope, id);
    const target = (fn: HostplaneFunction, input?: RuleTargetInput) =>
      new LambdaFunction(fn, { retryAttempts: 4, maxEventAge: Duration.hours(2), ...(input ? { event: input } : {}) });

    this.executionEnded = new Rule(this, 'ExecutionEnded', {
      description: 'A Hostplane execution that failed, timed out or was aborted closes its operation.',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: props.stateMachines.map((machine) => machine.stateMachineArn),
        },
      },
      targets: [target(props.executionStatusChanged)],
    });

    this.appDefinitionChanged = new Rule(this, 'AppDefinitionChanged', {
      description: 'A changed app definition is deployed, with no person in the loop.',
      eventPattern: { source: [APP_DEFINITION_CHANGED.source], detailType: [APP_DEFINITION_CHANGED.detailType] },
      targets: [target(props.appDefinitionChanged)],
    });

    this.reconcileSchedule = new Rule(this, 'ReconcileSchedule', {
      description: 'The registry compared with what exists; drift is reported, not fixed.',
      schedule: Schedule.rate(props.reconcileEvery ?? Duration.hours(1)),
      targets: [target(props.reconcileTenants, RuleTargetInput.fromObject({ fix: false }))],
    });
  }
}
