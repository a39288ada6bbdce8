/**
 * Waiting for a new process to be ready, with a deadline: either an HTTP GET on its health path
 * through the private socket only that process holds, or a readiness message over IPC.
 */
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';

export type HealthResult = { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly reason: string };

/** The longest a single health request may take. */
const ATTEMPT_TIMEOUT_MS = 2_000;

/** Resolves with a reason once the process is gone; never rejects. */
export type GoneSignal = Promise<string>;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One GET; resolves with the status code, or rejects. */
function getStatus(port: number, path: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs, headers: { 'user-agent': 'hostplane-reloader' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface HttpHealthOptions {
  readonly port: number;
  readonly path: string;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly gone: GoneSignal;
}

/** Polls `GET http://127.0.0.1:<port><path>` until it answers 2xx, the process is gone, or the deadline passes. */
export async function waitForHttpHealth(options: HttpHealthOptions): Promise<HealthResult> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let goneReason: string | undefined;
  void options.gone.then((reason) => (goneReason = reason));
  let last = 'no answer yet';
  while (goneReason === undefined) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const attemptMs = Math.min(remaining, ATTEMPT_TIMEOUT_MS);
    try {
      const status = await Promise.race([getStatus(options.port, options.path, attemptMs), options.gone.then(() => 0)]);
      if (goneReason !== undefined) break;
      if (status >= 200 && status < 300) return { ok: true, ms: Date.now() - started };
      last = `GET ${options.path} answered ${status}`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // An attempt cut short by the deadline says nothing new: keep what the previous one found.
      if (attemptMs === ATTEMPT_TIMEOUT_MS || last === 'no answer yet') {
        last = code === 'ECONNREFUSED' ? 'not listening on its health socket' : `GET ${options.path} failed: ${(error as Error).message}`;
      }
    }
    await Promise.race([delay(Math.min(options.intervalMs, Math.max(0, deadline - Date.now()))), options.gone]);
  }
  if (goneReason !== undefined) return { ok: false, reason: `${goneReason} before becoming healthy (${last})` };
  return { ok: false, reason: `not healthy within ${options.timeoutMs} ms (${last})` };
}

function isReadyMessage(message: unknown): boolean {
  if (message === 'READY=1') return true;
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ready';
}

/** Waits for `{ type: 'ready' }` (or `'READY=1'`) over the child's IPC channel. */
export async function waitForReadyMessage(child: ChildProcess, timeoutMs: number, gone: GoneSignal): Promise<HealthResult> {
  const started = Date.now();
  let onMessage: ((message: unknown) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      new Promise<HealthResult>((resolve) => {
        onMessage = (message) => {
          if (isReadyMessage(message)) resolve({ ok: true, ms: Date.now() - started });
        };
        child.on('message', onMessage);
      }),
      new Promise<HealthResult>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, reason: `no readiness message within ${timeoutMs} ms` }), timeoutMs);
      }),
      gone.then((reason): HealthResult => ({ ok: false, reason: `${reason} before becoming ready` })),
    ]);
  } finally {
    clearTimeout(timer);
    if (onMessage) child.off('message', onMessage);
  }
}
