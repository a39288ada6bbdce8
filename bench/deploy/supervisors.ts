/**
 * The swap part's two supervisors of an app folder (`<dir>/releases/<id>/`, `current` naming the
 * release): the reloader, and the naive kill-then-start baseline it is measured against.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReloaderEvent } from '../../runtime/reloader/events.js';
import { startReloader, type Reloader } from '../../runtime/reloader/reloader.js';
import { errorText } from '../support/format.js';
import { round } from '../support/stats.js';
import { now, sleep, withDeadline } from '../support/time.js';
import { CURRENT_POLL_MS } from './options.js';

/** After SIGTERM, the baseline kills a process that has not exited by then (as the reloader's default drain deadline). */
const BASELINE_DRAIN_DEADLINE_MS = 15_000;

/** The last lines of a log, kept for the failure report (and printed as they come with --verbose). */
export class LogTail {
  private readonly lines: string[] = [];
  constructor(
    private readonly prefix: string,
    private readonly echo: boolean,
    private readonly keep = 40,
  ) {}

  add = (text: string): void => {
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      this.lines.push(line);
      if (this.lines.length > this.keep) this.lines.shift();
      if (this.echo) console.log(`    [${this.prefix}] ${line}`);
    }
  };

  tail(count = 15): string[] {
    return this.lines.slice(-count);
  }
}

/** What the swap loop needs from a supervisor. */
export interface SwapSupervisor {
  readonly port: number;
  /** Resolves once no process of `releaseId` is left. */
  gone(releaseId: string, deadline: number): Promise<void>;
  /** What the supervisor itself says about the last swap to `releaseId`, ms from the flip. */
  detail(releaseId: string, flippedAt: number): Record<string, number | null>;
  stop(): Promise<void>;
  readonly log: LogTail;
}

/** Writes `current` as the deploy pipeline does: a file naming the release, written then renamed. */
export async function flipCurrent(appDir: string, releaseId: string): Promise<void> {
  const temporary = join(appDir, `.current.${randomBytes(4).toString('hex')}`);
  await writeFile(temporary, `${releaseId}\n`);
  await rename(temporary, join(appDir, 'current'));
}

/** The reloader, in this process, on a free port. */
export async function startReloaderSupervisor(appDir: string, env: NodeJS.ProcessEnv, verbose: boolean): Promise<SwapSupervisor> {
  const log = new LogTail('reloader', verbose);
  const live = new Map<number, string>();
  const swapped = new Map<string, { at: number; ms: number; healthMs: number }>();
  const onEvent = (event: ReloaderEvent) => {
    if (event.type === 'started' && event.pid !== undefined) live.set(event.pid, event.releaseId);
    if (event.type === 'swapped') {
      if (event.pid !== undefined) live.set(event.pid, event.to);
      swapped.set(event.to, { at: now(), ms: event.ms, healthMs: event.healthMs });
    }
    if ((event.type === 'stopped' || event.type === 'crashed') && event.pid !== undefined) live.delete(event.pid);
    if (event.type === 'release-failed' || event.type === 'crashed' || event.type === 'pointer-invalid') log.add(`event ${JSON.stringify(event)}`);
  };
  const reloader: Reloader = await startReloader(
    { appDir, host: '127.0.0.1', port: 0, pollIntervalMs: CURRENT_POLL_MS, runtimeHealth: { host: '127.0.0.1', port: 0 } },
    { log: log.add, onEvent, env },
  );
  return {
    port: reloader.port,
    log,
    gone: (releaseId, deadline) => processesGone(() => live.values(), releaseId, deadline, 'the reloader'),
    detail(releaseId, flippedAt) {
      const swap = swapped.get(releaseId);
      return swap && swap.at >= flippedAt
        ? { seenMs: round(swap.at - swap.ms - flippedAt), healthyMs: round(swap.at - flippedAt), healthCheckMs: swap.healthMs }
        : { seenMs: null, healthyMs: null, healthCheckMs: null };
    },
    stop: () => withDeadline(reloader.stop(), 60_000, 'stopping the reloader'),
  };
}

/**
 * The baseline the platform started from: poll `current` every second; on a change, SIGTERM the
 * old process and wait for it to exit, then start the new one on the same port (`PORT=`), with no
 * socket passing and no health wait.
 */
export class NaiveSupervisor implements SwapSupervisor {
  readonly log: LogTail;
  private child: { process: ChildProcess; releaseId: string; exited: Promise<void> } | undefined;
  private currentId: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private stopping = false;
  private readonly steps = new Map<string, { seenAt: number; oldExitedAt: number; spawnedAt: number }>();
  /** Every process still running, with its release. */
  private readonly all = new Map<ChildProcess, string>();

  constructor(
    private readonly appDir: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    verbose: boolean,
  ) {
    this.log = new LogTail('baseline', verbose);
    // Never leave a child behind, even on an exit we did not plan.
    process.on('exit', this.killAllNow);
  }

  async start(): Promise<void> {
    await this.poll();
  }

  private readonly killAllNow = (): void => {
    for (const child of this.all.keys()) child.kill('SIGKILL');
  };

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.busy = this.poll().catch((error: unknown) => this.log.add(`poll failed: ${errorText(error)}`));
    }, CURRENT_POLL_MS);
  }

  private async readCurrent(): Promise<string | undefined> {
    try {
      const raw = (await readFile(join(this.appDir, 'current'), 'utf8')).split('\n', 1)[0]!.trim();
      return raw.split('/').at(-1) || undefined;
    } catch {
      return undefined;
    }
  }

  private async poll(): Promise<void> {
    try {
      const id = await this.readCurrent();
      if (id && id !== this.currentId && !this.stopping) {
        const seenAt = now();
        this.log.add(`current: ${id}`);
        await this.stopChild();
        const oldExitedAt = now();
        if (this.stopping) return;
        this.spawnRelease(id);
        this.currentId = id;
        this.steps.set(id, { seenAt, oldExitedAt, spawnedAt: now() });
      }
    } finally {
      this.schedule();
    }
  }

  private spawnRelease(releaseId: string): void {
    const dir = join(this.appDir, 'releases', releaseId);
    const child = spawn(process.execPath, [join(dir, 'server.mjs')], {
      cwd: dir,
      env: { ...this.env, PORT: String(this.port), HOST: '127.0.0.1', HOSTPLANE_RELEASE_ID: releaseId },
      // The IPC channel is only there so that the app drains and exits if this benchmark dies;
      // its messages are ignored.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.all.set(child, releaseId);
    const prefix = `${releaseId} ${child.pid}`;
    child.stdout?.on('data', (chunk: Buffer) => this.log.add(`[${prefix}] ${chunk.toString('utf8').trimEnd()}`));
    child.stderr?.on('data', (chunk: Buffer) => this.log.add(`[${prefix}] ${chunk.toString('utf8').trimEnd()}`));
    child.on('message', () => undefined);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.all.delete(child);
        this.log.add(`[${prefix}] exited (${signal ?? `code ${code}`})`);
        resolve();
      });
      child.once('error', (error) => {
        this.log.add(`[${prefix}] ${error.message}`);
        if (child.pid === undefined) resolve();
      });
    });
    this.child = { process: child, releaseId, exited };
  }

  private async stopChild(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
    const killer = setTimeout(() => child.process.kill('SIGKILL'), BASELINE_DRAIN_DEADLINE_MS);
    try {
      await withDeadline(child.exited, BASELINE_DRAIN_DEADLINE_MS + 5_000, `the baseline's process of ${child.releaseId}`);
    } finally {
      clearTimeout(killer);
    }
  }

  gone(releaseId: string, deadline: number): Promise<void> {
    return processesGone(() => this.all.values(), releaseId, deadline, 'the baseline');
  }

  detail(releaseId: string, flippedAt: number): Record<string, number | null> {
    const step = this.steps.get(releaseId);
    if (!step || step.seenAt < flippedAt) return { seenMs: null, oldExitedMs: null, spawnedMs: null };
    return { seenMs: round(step.seenAt - flippedAt), oldExitedMs: round(step.oldExitedAt - flippedAt), spawnedMs: round(step.spawnedAt - flippedAt) };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.busy?.catch(() => undefined);
    try {
      await this.stopChild();
    } finally {
      process.off('exit', this.killAllNow);
      this.killAllNow();
    }
  }
}

/** Resolves once none of `releases()` (the releases of the live processes) is `releaseId`. */
async function processesGone(releases: () => Iterable<string>, releaseId: string, deadline: number, who: string): Promise<void> {
  while ([...releases()].includes(releaseId)) {
    if (now() > deadline) throw new Error(`${who}'s process of ${releaseId} has not exited`);
    await sleep(10);
  }
}
