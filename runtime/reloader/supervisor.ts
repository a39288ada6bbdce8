/**
 * The reloader's decisions: which release to run, when to swap, when to restart. Every trigger
 * (a poll of `current`, a crash, a backoff timer) calls `kick()`, and one `step()` at a time
 * brings the processes in line with the pointer:
 *
 * - something serves and `current` names another release: start it on the shared socket, wait for
 *   its health, then tell the old process to drain. If it fails, stop it, keep the old one serving,
 *   write `failed` to status.json, and do not retry that release until `current` changes;
 * - nothing serves (first start, crash): start the release `current` names (or the last good one
 *   when that one failed), after an exponential backoff when the previous process crashed or failed.
 */
import { AppProcess, describeExit, type ExitInfo } from './app-process.js';
import { backoffDelayMs } from './backoff.js';
import type { ReloaderConfig } from './config.js';
import type { ReloaderEvent } from './events.js';
import type { HealthResult } from './health-check.js';
import type { PointerReading, Release } from './release-pointer.js';
import type { AppState, RuntimeHealthReport } from './runtime-health.js';
import { writeReleaseStatus, type ReleaseStatus } from './status-file.js';

export interface SupervisorDeps {
  readonly config: ReloaderConfig;
  /** The shared socket's fd, handed to every app process as fd 3. */
  readonly listenFd: number;
  readonly listenPort: number;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  readonly emit: (event: ReloaderEvent) => void;
  readonly watcherState: () => { lastPollAt: number | undefined; lastError: string | undefined };
}

interface Failure {
  readonly releaseId: string;
  readonly reason: string;
  readonly at: string;
}

export class Supervisor {
  private reading: PointerReading | undefined;
  private readingSince = Date.now();
  /** A release that failed while another one served: not retried until `current` changes. */
  private failedId: string | undefined;
  private active: AppProcess | undefined;
  private lastGood: Release | undefined;
  private readonly live = new Set<AppProcess>();
  private draining = 0;
  private appState: AppState = 'none';
  private consecutiveFailures = 0;
  private notBefore = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private crashes = 0;
  private restarts = 0;
  private swaps = 0;
  private lastExit: (Failure & { pid: number | null }) | undefined;
  private lastFailure: Failure | undefined;
  private lastStatusKey: string | undefined;
  private stopping = false;
  private looping = false;
  private again = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly startedAt = Date.now();

  constructor(private readonly deps: SupervisorDeps) {}

  /** A poll of `current` finished. */
  onReading(reading: PointerReading, changed: boolean): void {
    if (changed) {
      this.reading = reading;
      this.readingSince = Date.now();
      this.failedId = undefined;
      this.deps.log(`current: ${reading.kind === 'release' ? reading.release.id : reading.kind === 'invalid' ? `invalid (${reading.reason})` : 'none'}`);
      if (reading.kind === 'invalid') this.reportInvalid(reading.raw, reading.reason);
    }
    this.kick();
  }

  kick(): void {
    if (this.stopping) return;
    if (this.looping) {
      this.again = true;
      return;
    }
    this.looping = true;
    this.idle = this.loop();
  }

  /** Drains every process, without starting any more. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.appState = 'stopping';
    clearTimeout(this.retryTimer);
    await Promise.all([...this.live].map((proc) => proc.drain(this.deps.config.drainDeadlineMs)));
    await this.idle;
    // Anything a step still in flight had started.
    await Promise.all([...this.live].map((proc) => proc.drain(this.deps.config.drainDeadlineMs)));
  }

  report(): RuntimeHealthReport {
    const { config } = this.deps;
    const { lastPollAt, lastError } = this.deps.watcherState();
    const reasons: string[] = [];
    if (this.stopping) reasons.push('stopping');
    if (lastError) reasons.push(`cannot read ${config.appDir}/current: ${lastError}`);
    const staleAfterMs = config.pollIntervalMs * 3 + 2_000;
    if (lastPollAt === undefined || Date.now() - lastPollAt > staleAfterMs) reasons.push(`current not polled for more than ${staleAfterMs} ms`);
    const shown = this.active ?? [...this.live].find((proc) => !proc.stopRequested);
    const target = this.reading?.kind === 'release' ? this.reading.release.id : null;
    return {
      status: reasons.length === 0 ? 'ok' : 'degraded',
      reasons,
      runtime: {
        pid: process.pid,
        uptimeSeconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
        listen: { host: config.host, port: this.deps.listenPort },
        pollIntervalMs: config.pollIntervalMs,
        lastPollAt: lastPollAt === undefined ? null : new Date(lastPollAt).toISOString(),
        lastPollError: lastError ?? null,
      },
      app: {
        state: this.appState,
        releaseId: shown?.release.id ?? null,
        pid: shown?.pid ?? null,
        targetReleaseId: target,
        crashes: this.crashes,
        restarts: this.restarts,
        swaps: this.swaps,
        draining: this.draining,
        lastExit: this.lastExit ?? null,
        lastFailure: this.lastFailure ?? null,
      },
    };
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.step();
        } catch (error) {
          this.deps.log(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        }
      } while (this.again && !this.stopping);
    } finally {
      this.looping = false;
    }
  }

  private async step(): Promise<void> {
    if (this.stopping) return;
    const reading = this.reading;
    const target = reading?.kind === 'release' ? reading.release : undefined;
    const active = this.active;
    if (active) {
      if (!target || target.id === this.failedId) return;
      if (target.id === active.release.id) return this.recordStatus({ releaseId: target.id, state: 'healthy', pid: active.pid });
      return this.swap(active, target);
    }
    const candidate = target && target.id !== this.failedId ? target : (this.lastGood ?? target);
    if (!candidate) {
      if (this.appState !== 'failed' && this.appState !== 'crashed') this.appState = 'none';
      return;
    }
    const waitMs = this.notBefore - Date.now();
    if (waitMs > 0) return this.retryIn(waitMs);
    return this.startAlone(candidate);
  }

  /** A new release while another serves. */
  private async swap(old: AppProcess, release: Release): Promise<void> {
    const seenAt = this.readingSince;
    this.deps.log(`swap ${old.release.id} -> ${release.id}: starting`);
    const { proc, result } = await this.launch(release);
    if (this.stopping) return;
    if (!result.ok) {
      if (proc) this.retire(proc);
      this.failedId = release.id;
      await this.fail(release.id, result.reason);
      return;
    }
    if (!proc) return;
    this.active = proc;
    this.lastGood = release;
    this.appState = 'healthy';
    this.swaps += 1;
    this.retire(old);
    this.deps.log(`swap ${old.release.id} -> ${release.id}: healthy in ${result.ms} ms, old process draining`);
    this.deps.emit({ type: 'swapped', from: old.release.id, to: release.id, pid: proc.pid, ms: Date.now() - seenAt, healthMs: result.ms });
    await this.recordStatus({ releaseId: release.id, state: 'healthy', pid: proc.pid });
  }

  /** Nothing serves: start one (first start, or after a crash or a failure). */
  private async startAlone(release: Release): Promise<void> {
    const restart = this.lastGood !== undefined;
    this.appState = 'starting';
    const { proc, result } = await this.launch(release);
    if (this.stopping) return;
    if (!result.ok || !proc) {
      if (proc) this.retire(proc);
      this.consecutiveFailures += 1;
      this.notBefore = Date.now() + backoffDelayMs(this.deps.config.restartBackoff, this.consecutiveFailures);
      const reason = result.ok ? 'could not start' : result.reason;
      const isNewRelease = this.isTarget(release) && release.id !== this.lastGood?.id;
      if (isNewRelease) this.failedId = release.id;
      await this.fail(release.id, reason, isNewRelease);
      this.appState = 'failed';
      this.retryIn(this.notBefore - Date.now());
      return;
    }
    this.active = proc;
    this.lastGood = release;
    this.appState = 'healthy';
    if (restart) this.restarts += 1;
    this.deps.log(`${release.id} healthy in ${result.ms} ms (pid ${proc.pid})`);
    this.deps.emit({ type: 'started', releaseId: release.id, pid: proc.pid, healthMs: result.ms, restart });
    if (this.isTarget(release)) await this.recordStatus({ releaseId: release.id, state: 'healthy', pid: proc.pid });
  }

  private async launch(release: Release): Promise<{ proc: AppProcess | undefined; result: HealthResult }> {
    if (this.stopping) return { proc: undefined, result: { ok: false, reason: 'the reloader is stopping' } };
    let proc: AppProcess;
    try {
      proc = AppProcess.start({
        release,
        command: this.deps.config.command,
        listenFd: this.deps.listenFd,
        health: this.deps.config.health,
        exactListenPid: this.deps.config.exactListenPid,
        env: this.deps.env,
        log: this.deps.log,
      });
    } catch (error) {
      return { proc: undefined, result: { ok: false, reason: `could not start: ${error instanceof Error ? error.message : String(error)}` } };
    }
    this.live.add(proc);
    void proc.exited.then((exit) => this.onExit(proc, exit));
    return { proc, result: await proc.waitHealthy() };
  }

  private onExit(proc: AppProcess, exit: ExitInfo): void {
    this.live.delete(proc);
    if (proc !== this.active || proc.stopRequested || this.stopping) return;
    const reason = describeExit(exit);
    const now = Date.now();
    this.active = undefined;
    this.crashes += 1;
    if (now - (proc.healthyAt ?? proc.startedAt) >= this.deps.config.restartBackoff.resetAfterMs) this.consecutiveFailures = 0;
    this.consecutiveFailures += 1;
    const restartInMs = backoffDelayMs(this.deps.config.restartBackoff, this.consecutiveFailures);
    this.notBefore = now + restartInMs;
    this.appState = 'crashed';
    this.lastExit = { releaseId: proc.release.id, pid: proc.pid ?? null, reason, at: new Date(now).toISOString() };
    this.deps.log(`${proc.release.id} (pid ${proc.pid}) ${reason}; restarting in ${restartInMs} ms`);
    this.deps.emit({ type: 'crashed', releaseId: proc.release.id, pid: proc.pid, reason, restartInMs });
    this.kick();
  }

  /** Tells a process to drain and exit, in the background (SIGKILL at the drain deadline). */
  private retire(proc: AppProcess): void {
    const since = Date.now();
    this.draining += 1;
    void proc.drain(this.deps.config.drainDeadlineMs).then((exit) => {
      this.draining -= 1;
      const clean = exit.code === 0 && exit.signal === null;
      this.deps.emit({ type: 'stopped', releaseId: proc.release.id, pid: proc.pid, ms: Date.now() - since, clean, reason: describeExit(exit) });
    });
  }

  private retryIn(ms: number): void {
    if (this.retryTimer || this.stopping) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, Math.max(0, ms));
  }

  private isTarget(release: Release): boolean {
    return this.reading?.kind === 'release' && this.reading.release.id === release.id;
  }

  private async fail(releaseId: string, reason: string, writeStatus = true): Promise<void> {
    this.lastFailure = { releaseId, reason, at: new Date().toISOString() };
    this.deps.log(`${releaseId} failed: ${reason}`);
    this.deps.emit({ type: 'release-failed', releaseId, reason });
    if (writeStatus) await this.recordStatus({ releaseId, state: 'failed', reason });
  }

  private reportInvalid(raw: string, reason: string): void {
    this.lastFailure = { releaseId: raw, reason, at: new Date().toISOString() };
    this.deps.emit({ type: 'pointer-invalid', raw, reason });
    void this.recordStatus({ releaseId: raw, state: 'failed', reason });
  }

  /** Writes status.json unless it already says this. */
  private async recordStatus(status: Omit<ReleaseStatus, 'time'>): Promise<void> {
    const key = `${status.releaseId}|${status.state}|${status.pid ?? ''}|${status.reason ?? ''}`;
    if (key === this.lastStatusKey) return;
    try {
      await writeReleaseStatus(this.deps.config.appDir, { ...status, time: new Date().toISOString() });
      this.lastStatusKey = key;
    } catch (error) {
      this.deps.log(`cannot write status.json: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
