import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PermanentError, TransientError } from '../../lambdas/domain/errors.js';
import type { EventsPort, PlatformEvent } from '../../lambdas/ports/events.js';
import { callAws } from './aws-errors.js';

/** PutEvents' limit on one entry: 256 KiB, counting Source, DetailType and Detail as UTF-8 (plus Time, which we do not send). */
export const EVENT_ENTRY_LIMIT_BYTES = 256 * 1024;

/** Entry error codes PutEvents documents as retryable; any other failed entry will fail the same way again. */
const RETRYABLE_ENTRY_CODES = new Set(['ThrottlingException', 'InternalFailure']);

export interface EventBridgeEventsOptions {
  readonly client: EventBridgeClient;
  /** The bus events go to (its name or ARN). */
  readonly eventBusName: string;
}

/**
 * The events port on Amazon EventBridge. PutEvents answers 200 even when an entry was refused
 * (FailedEntryCount > 0), so a refused entry is turned into an error here: a publish either
 * reached the bus or throws.
 */
export class EventBridgeEvents implements EventsPort {
  constructor(private readonly options: EventBridgeEventsOptions) {}

  async publish(event: PlatformEvent): Promise<void> {
    const { client, eventBusName } = this.options;
    const doing = `publishing ${event.source} "${event.detailType}" to ${eventBusName}`;
    const detail = JSON.stringify(event.detail);
    const bytes = Buffer.byteLength(event.source) + Buffer.byteLength(event.detailType) + Buffer.byteLength(detail);
    if (bytes > EVENT_ENTRY_LIMIT_BYTES) throw new PermanentError(`${doing}: the event is ${bytes} bytes, over EventBridge's ${EVENT_ENTRY_LIMIT_BYTES}-byte limit`);

    const answer = await callAws(doing, () =>
      client.send(new PutEventsCommand({ Entries: [{ EventBusName: eventBusName, Source: event.source, DetailType: event.detailType, Detail: detail }] })),
    );
    if (!answer.FailedEntryCount) return;
    const failed = answer.Entries?.find((entry) => entry.ErrorCode !== undefined);
    const code = failed?.ErrorCode ?? 'UnknownError';
    const message = `${doing}: the entry was refused: ${code}: ${failed?.ErrorMessage ?? 'no message'}`;
    throw RETRYABLE_ENTRY_CODES.has(code) ? new TransientError(message) : new PermanentError(message);
  }
}
