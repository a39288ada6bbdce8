import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { EventsPort } from '../../lambdas/ports/events.js';
import { EventBridgeEvents } from '../adapters/eventbridge-events.js';
import type { CloudContext } from '../cloud-context.js';
import { CLOUD_VARIABLES } from '../cloud-environment.js';

export function eventsPort(context: CloudContext): EventsPort {
  return new EventBridgeEvents({
    client: context.client('eventbridge', (c) => new EventBridgeClient(c)),
    eventBusName: context.env[CLOUD_VARIABLES.eventBusName] ?? 'default',
  });
}
