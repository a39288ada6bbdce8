import { randomUUID } from 'node:crypto';
import type { FunctionName } from '../lambdas/functions.js';
import type { PlatformEvent } from '../lambdas/ports/events.js';
import type { InProcessEvents } from './adapters/in-process-events.js';
import { loadFunctionHandler } from './function-handlers.js';
import { invokeLikeLambda } from './lambda-invoker.js';

export interface EventRuleOptions {
  /** The envelope's `id` (EventBridge gives each event one; handlers use it to deduplicate). @default a new UUID */
  readonly idOf?: (event: PlatformEvent) => string | undefined;
  /** What the function answered, for the log. */
  readonly onAnswer?: (answer: unknown, event: PlatformEvent) => void;
}

/**
 * As an EventBridge rule with a Lambda target would: every event of `source` and `detailType` on
 * the in-process bus invokes `functionName`, in EventBridge's envelope.
 */
export function routeEventsToFunction(
  events: InProcessEvents,
  source: string,
  detailType: string,
  functionName: FunctionName,
  { idOf, onAnswer }: EventRuleOptions = {},
): void {
  events.subscribe(source, detailType, async (event) => {
    const handler = await loadFunctionHandler(functionName);
    const answer = await invokeLikeLambda(handler, functionName, {
      version: '0',
      id: idOf?.(event) ?? randomUUID(),
      source: event.source,
      'detail-type': event.detailType,
      account: '000000000000',
      region: 'local',
      time: new Date().toISOString(),
      resources: [],
      detail: event.detail,
    });
    onAnswer?.(answer, event);
  });
}
