import { beforeEach, describe, expect, it } from '@jest/globals';
import { EventBridgeClient, EventBridgeServiceException, PutEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EVENT_ENTRY_LIMIT_BYTES, EventBridgeEvents } from '../../cloud/adapters/eventbridge-events.js';
import { ErrorNames } from '../../lambdas/domain/errors.js';
import type { PlatformEvent } from '../../lambdas/ports/events.js';

const BUS = 'hp-dev-control-plane';
const EVENT: PlatformEvent = {
  source: 'hostplane.apps',
  detailType: 'App Definition Changed',
  detail: { tenantId: 'acme', app: 'shop', version: 3 },
};

describe('EventBridgeEvents', () => {
  const eventBridge = mockClient(EventBridgeClient);
  const events = new EventBridgeEvents({ client: new EventBridgeClient({ region: 'eu-west-1' }), eventBusName: BUS });

  beforeEach(() => {
    eventBridge.reset();
  });

  it('puts one entry on the bus with source, detail type and the detail as JSON', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });

    await events.publish(EVENT);

    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [{ EventBusName: BUS, Source: 'hostplane.apps', DetailType: 'App Definition Changed', Detail: '{"tenantId":"acme","app":"shop","version":3}' }],
    });
  });

  it('treats an entry refused for throttling, in a 200 answer, as a transient error', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }] });

    await expect(events.publish(EVENT)).rejects.toMatchObject({
      name: ErrorNames.transient,
      message: expect.stringContaining('the entry was refused: ThrottlingException: Rate exceeded'),
    });
  });

  it('treats an entry refused for an internal failure as transient', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'oops' }] });

    await expect(events.publish(EVENT)).rejects.toMatchObject({ name: ErrorNames.transient });
  });

  it('treats an entry refused for any other reason as permanent', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' }],
    });

    await expect(events.publish(EVENT)).rejects.toMatchObject({
      name: ErrorNames.permanent,
      message: expect.stringContaining(`publishing hostplane.apps "App Definition Changed" to ${BUS}`),
    });
  });

  it('maps a throttled call to transient and a missing bus to permanent', async () => {
    eventBridge
      .on(PutEventsCommand)
      .rejectsOnce(new EventBridgeServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }))
      .rejects(new ResourceNotFoundException({ message: `Event bus ${BUS} does not exist.`, $metadata: {} }));

    await expect(events.publish(EVENT)).rejects.toMatchObject({ name: ErrorNames.transient });
    await expect(events.publish(EVENT)).rejects.toMatchObject({ name: ErrorNames.permanent, message: expect.stringContaining('ResourceNotFoundException') });
  });

  it('refuses an event over the entry size limit before calling EventBridge', async () => {
    await expect(events.publish({ ...EVENT, detail: { blob: 'x'.repeat(EVENT_ENTRY_LIMIT_BYTES) } })).rejects.toMatchObject({
      name: ErrorNames.permanent,
      message: expect.stringContaining('-byte limit'),
    });
    expect(eventBridge.calls()).toHaveLength(0);
  });
});
