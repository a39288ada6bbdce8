/**
 * The swap part's load: keep-alive clients sending GET /version back to back, in a worker thread
 * so that the supervisors' timers in the main thread are not held up by the load. The figures
 * are counted per "window", from one flip of `current` to the next.
 */
import { Worker } from 'node:worker_threads';
import { now } from '../support/time.js';

/** One request of a load client gives up after this long. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Per swap (a "window" runs from one flip to the next), as the load worker counts it. */
export interface WindowStats {
  readonly requests: number;
  readonly ok: number;
  readonly failures: Record<string, number>;
  /** When the first answer from the watched release came (any client), epoch ms. */
  readonly firstAt: number | null;
  /** When every client had had an answer from the watched release. */
  readonly allAt: number | null;
  /** Longest time without any successful answer (across all clients). */
  readonly maxGapMs: number;
  /** Successful answers from the other release after the first one from the watched release. */
  readonly oldAfterNew: number;
}

type WorkerMessage =
  | { readonly type: 'window'; readonly id: number; readonly closed: WindowStats }
  | { readonly type: 'first' | 'all'; readonly id: number; readonly at: number }
  | { readonly type: 'stopped'; readonly closed: WindowStats; readonly samples: readonly string[] };

/** Plain JavaScript (CommonJS), evaluated in the worker: no loader needed there. */
const LOAD_WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { port, clients, path, releases, retryPauseMs, timeoutMs } = workerData;
const now = () => performance.timeOrigin + performance.now();
let stopping = false;
let lastOkAt;
const samples = [];
let win;
function newWindow(id, target) {
  win = { id, target, requests: 0, ok: 0, failures: {}, firstAt: null, allAt: null, maxGapMs: 0, oldAfterNew: 0, seen: new Array(clients).fill(false), seenCount: 0 };
}
function closed(w) {
  return { requests: w.requests, ok: w.ok, failures: w.failures, firstAt: w.firstAt, allAt: w.allAt, maxGapMs: w.maxGapMs, oldAfterNew: w.oldAfterNew };
}
function once(agent) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('error', (error) => resolve({ ok: false, kind: error.code || 'response error', message: error.message }));
      res.on('end', () => {
        const status = res.statusCode || 0;
        if (status < 200 || status > 299) return resolve({ ok: false, kind: 'HTTP ' + status, message: body.slice(0, 120) });
        let release;
        try { release = JSON.parse(body).release; } catch { release = undefined; }
        if (!releases.includes(release)) return resolve({ ok: false, kind: 'unexpected answer', message: body.slice(0, 120) });
        resolve({ ok: true, release });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within ' + timeoutMs + ' ms'), { code: 'TIMEOUT' })));
    req.on('error', (error) => resolve({ ok: false, kind: error.code || 'request error', message: error.message }));
    req.end();
  });
}
function record(client, result) {
  const at = now();
  const w = win;
  w.requests++;
  if (!result.ok) {
    w.failures[result.kind] = (w.failures[result.kind] || 0) + 1;
    if (samples.length < 10 && !samples.some((sample) => sample.startsWith(result.kind + ': '))) samples.push(result.kind + ': ' + result.message);
    return;
  }
  w.ok++;
  if (lastOkAt !== undefined && at - lastOkAt > w.maxGapMs) w.maxGapMs = at - lastOkAt;
  lastOkAt = at;
  if (result.release !== w.target) {
    if (w.firstAt !== null) w.oldAfterNew++;
    return;
  }
  if (w.firstAt === null) {
    w.firstAt = at;
    parentPort.postMessage({ type: 'first', id: w.id, at });
  }
  if (!w.seen[client]) {
    w.seen[client] = true;
    w.seenCount++;
    if (w.seenCount === clients) {
      w.allAt = at;
      parentPort.postMessage({ type: 'all', id: w.id, at });
    }
  }
}
async function client(index) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    while (!stopping) {
      const result = await once(agent);
      record(index, result);
      if (!result.ok && retryPauseMs > 0) await new Promise((done) => setTimeout(done, retryPauseMs));
    }
  } finally {
    agent.destroy();
  }
}
let running = [];
parentPort.on('message', (message) => {
  if (message.cmd === 'window') {
    const previous = win;
    newWindow(message.id, message.target);
    if (previous) parentPort.postMessage({ type: 'window', id: previous.id, closed: closed(previous) });
    if (!running.length) running = Array.from({ length: clients }, (_, i) => client(i));
  } else if (message.cmd === 'stop') {
    stopping = true;
    Promise.allSettled(running).then(() => parentPort.postMessage({ type: 'stopped', closed: closed(win), samples }));
  }
});
`;

/** N keep-alive clients sending GET /version back to back, in a worker thread. */
export class LoadWorker {
  private readonly worker: Worker;
  private readonly listeners = new Set<(message: WorkerMessage) => void>();
  private windowId = 0;
  private error: Error | undefined;
  private terminated = false;

  constructor(port: number, clients: number, releases: readonly string[], retryPauseMs: number) {
    this.worker = new Worker(LOAD_WORKER_SOURCE, {
      eval: true,
      workerData: { port, clients, path: '/version', releases, retryPauseMs, timeoutMs: REQUEST_TIMEOUT_MS },
    });
    this.worker.on('message', (message: WorkerMessage) => {
      for (const listener of this.listeners) listener(message);
    });
    this.worker.on('error', (error) => {
      this.error = error;
      for (const listener of this.listeners) listener({ type: 'stopped', closed: emptyWindow(), samples: [`worker failed: ${error.message}`] });
    });
  }

  /** Waits for the first message that `pick` accepts (it returns undefined for others), with a deadline. */
  private waitFor<T>(pick: (message: WorkerMessage) => T | undefined, deadline: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`${what}: not by the deadline`));
      }, Math.max(0, deadline - now()));
      const listener = (message: WorkerMessage) => {
        if (this.error) {
          clearTimeout(timer);
          this.listeners.delete(listener);
          reject(new Error(`the load worker failed: ${this.error.message}`));
          return;
        }
        const picked = pick(message);
        if (picked === undefined) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(picked);
      };
      this.listeners.add(listener);
    });
  }

  /**
   * Starts a new window watching `target` (the clients start with the first window) and returns
   * it; `closed` resolves with the previous window's figures.
   */
  openWindow(target: string): { id: number; first: Promise<number>; all: Promise<number>; closed: Promise<WindowStats | undefined> } {
    const id = ++this.windowId;
    const previous = id - 1;
    const deadline = now() + 3_600_000;
    const first = this.waitFor((m) => (m.type === 'first' && m.id === id ? m.at : undefined), deadline, 'first answer');
    const all = this.waitFor((m) => (m.type === 'all' && m.id === id ? m.at : undefined), deadline, 'every client');
    first.catch(() => undefined);
    all.catch(() => undefined);
    const closed = previous === 0 ? Promise.resolve(undefined) : this.waitFor((m) => (m.type === 'window' && m.id === previous ? m.closed : undefined), now() + 10_000, 'window figures');
    this.worker.postMessage({ cmd: 'window', id, target });
    return { id, first, all, closed };
  }

  /** Stops the clients (each finishes its request in flight) and returns the last window's figures. */
  async stop(): Promise<{ closed: WindowStats; samples: readonly string[] }> {
    const stopped = this.waitFor((m) => (m.type === 'stopped' ? m : undefined), now() + REQUEST_TIMEOUT_MS + 5_000, 'stopping the load clients');
    this.worker.postMessage({ cmd: 'stop' });
    try {
      const message = await stopped;
      return { closed: message.closed, samples: message.samples };
    } finally {
      await this.terminate();
    }
  }

  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    await this.worker.terminate();
  }
}

export function emptyWindow(): WindowStats {
  return { requests: 0, ok: 0, failures: {}, firstAt: null, allAt: null, maxGapMs: 0, oldAfterNew: 0 };
}
