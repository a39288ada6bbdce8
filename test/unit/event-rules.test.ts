import { describe, expect, it } from '@jest/globals';
import { InProcessEvents } from '../../local/adapters/in-process-events.js';
import { routeEventsToFunction, type RetryPolicy } from '../../local/event-rules.js';

const QUICK: RetryPolicy = { firstDelayMs: 5, maxDelayMs: 20, maxEventAgeMs: 60_000 };
const ENDED = { source: 'aws.states', detailType: 'Step Functions Execution Status Change', detail: { name: 'op-1', status: 'FAILED' } };

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

describe('local event rules (as EventBridge rules with a Lambda target)', () => {
  it('tries a failed delivery again with backoff until it is handled: an execution-ended event survives a database outage', async () => {
    const failures: unknown[] = [];
    const events = new InProcessEvents((error) => failures.push(error));
    const envelopes: Record<string, unknown>[] = [];
    const retries: number[] = [];
    let calls = 0;
    routeEventsToFunction(events, ENDED.source, ENDED.detailType, 'ExecutionStatusChanged', {
      retry: QUICK,
      idOf: (event) => String(event.detail.name),
      onRetry: (_error, _attempt, delayMs) => retries.push(delayMs),
      invoke: async (envelope) => {
        envelopes.push(envelope);
        if (++calls <= 3) throw refused();
        return { closed: true };
      },
    });

    await events.publish(ENDED);
    await events.settled();

    expect(calls).toBe(4);
    expect(retries).toEqual([5, 10, 20]);
    expect(failures).toEqual([]);
    // Every attempt carries the same envelope (its id lets the handler deduplicate).
    expect(new Set(envelopes.map((envelope) => JSON.stringify(envelope))).size).toBe(1);
    expect(envelopes[0]).toMatchObject({ id: 'op-1', 'detail-type': ENDED.detailType, detail: ENDED.detail });
  });

  it('gives up once the event is older than the policy allows, and reports the last error', async () => {
    const failures: unknown[] = [];
    const events = new InProcessEvents((error) => failures.push(error));
    let calls = 0;
    routeEventsToFunction(events, ENDED.source, ENDED.detailType, 'ExecutionStatusChanged', {
      retry: { firstDelayMs: 5, maxDelayMs: 5, maxEventAgeMs: 30 },
      invoke: async () => {
        calls++;
        throw refused();
      },
    });

    await events.publish(ENDED);
    await events.settled();

    expect(calls).toBeGreaterThan(1);
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toContain('ECONNREFUSED');
  });

  it('stops trying when the control plane stops', async () => {
    const failures: unknown[] = [];
    const events = new InProcessEvents((error) => failures.push(error));
    const stopping = new AbortController();
    let calls = 0;
    routeEventsToFunction(events, ENDED.source, ENDED.detailType, 'ExecutionStatusChanged', {
      retry: { firstDelayMs: 60_000, maxDelayMs: 60_000, maxEventAgeMs: 3_600_000 },
      signal: stopping.signal,
      onRetry: () => stopping.abort(),
      invoke: async () => {
        calls++;
        throw refused();
      },
    });

    await events.publish(ENDED);
    await events.settled();

    expect(calls).toBe(1);
    expect(failures).toHaveLength(1);
  });
});
