import { request } from 'node:http';
import { clip, errorText } from './format.js';
import { now, sleep } from './time.js';

export interface ApiResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** One JSON request to the control plane's API; a body that is not a JSON object comes back wrapped. */
export async function api(baseUrl: string, method: string, path: string, body?: unknown, timeoutMs?: number): Promise<ApiResponse> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  if (text) {
    try {
      const value: unknown = JSON.parse(text);
      parsed = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : { value };
    } catch {
      parsed = { raw: text.slice(0, 500) };
    }
  }
  return { status: response.status, body: parsed };
}

/** GET `path` through the front door as `<host>`, as a browser on `<tenant>.localhost` would. */
export function frontDoorGet(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('front door request timed out')));
    req.on('error', reject);
    req.end();
  });
}

export type OperationPoll =
  | { readonly outcome: 'done'; readonly operation: Record<string, unknown> }
  /** Still RUNNING at the deadline; `lastError` says what the last failed poll got, if any. */
  | { readonly outcome: 'timed out'; readonly lastError: string }
  | { readonly outcome: 'interrupted' };

export interface PollOptions {
  readonly pollMs: number;
  /** Epoch ms, as {@link now}. */
  readonly deadline: number;
  readonly stopping: () => boolean;
  readonly requestTimeoutMs?: number;
}

/** Polls `GET /operations/{id}` every `pollMs` until it is not RUNNING. */
export async function pollOperation(apiUrl: string, operationId: string, { pollMs, deadline, stopping, requestTimeoutMs }: PollOptions): Promise<OperationPoll> {
  let lastError = '';
  while (!stopping()) {
    try {
      const polled = await api(apiUrl, 'GET', `/operations/${operationId}`, undefined, requestTimeoutMs);
      if (polled.status === 200 && polled.body.status !== 'RUNNING') return { outcome: 'done', operation: polled.body };
      if (polled.status !== 200) lastError = `HTTP ${polled.status} ${JSON.stringify(polled.body)}`;
    } catch (error) {
      lastError = errorText(error);
    }
    if (now() > deadline) return { outcome: 'timed out', lastError };
    await sleep(pollMs);
  }
  return { outcome: 'interrupted' };
}

export interface StateTiming {
  readonly state: string;
  readonly ms: number;
}

/** Each state's `endedAt − startedAt` as the operation lists them (server-side, no polling in it). */
export function stateTimings(operation: Record<string, unknown>): StateTiming[] {
  const timings: StateTiming[] = [];
  for (const { state, startedAt, endedAt } of operationStates(operation)) {
    if (typeof state !== 'string' || typeof startedAt !== 'string' || typeof endedAt !== 'string') continue;
    const ms = Date.parse(endedAt) - Date.parse(startedAt);
    if (Number.isFinite(ms)) timings.push({ state, ms });
  }
  return timings;
}

/** The times of each state over several operations, in the order the states first appear. */
export function timesByState(operations: Iterable<readonly StateTiming[]>): Map<string, number[]> {
  const byState = new Map<string, number[]>();
  for (const timings of operations) {
    for (const { state, ms } of timings) byState.set(state, [...(byState.get(state) ?? []), ms]);
  }
  return byState;
}

/**
 * What went wrong in a failed operation: its error and the failed states' errors. `compact`:
 * each error clipped to 300 characters, and each failed state's line once.
 */
export function describeFailure(operation: Record<string, unknown>, { compact = false } = {}): string {
  const shorten = (text: string) => (compact ? clip(text) : text);
  const parts = [`operation ${String(operation.status)}`];
  if (operation.error) parts.push(`error: ${shorten(JSON.stringify(operation.error))}`);
  for (const step of operationStates(operation)) {
    const part = `state ${String(step.state)} ${String(step.status)}: ${shorten(JSON.stringify(step.error))}`;
    if (step.status !== 'SUCCEEDED' && !(compact && parts.includes(part))) parts.push(part);
  }
  return parts.join('; ');
}

function operationStates(operation: Record<string, unknown>): Record<string, unknown>[] {
  const states = Array.isArray(operation.states) ? (operation.states as unknown[]) : [];
  return states.filter((entry): entry is Record<string, unknown> => typeof entry === 'object' && entry !== null);
}
