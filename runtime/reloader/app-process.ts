/**
 * One app process: a release's command, started on the shared socket (fd 3) with the systemd
 * socket-activation environment, its health checked, then drained or killed.
 *
 * The child's file descriptors:
 *   0 /dev/null, 1 and 2 piped to the reloader's log,
 *   3 the shared public socket (LISTEN_FDS=1, LISTEN_FDNAMES=http, LISTEN_PID = the app's pid),
 *   4 in `http` health mode, a private loopback socket for the health check (HOSTPLANE_HEALTH_FD=4),
 *   5 the Node IPC channel (readiness message; `disconnect` tells a Node app its supervisor is gone).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { HealthConfig } from './config.js';
import { RELEASE_DIR_PLACEHOLDER, RELEASE_ID_PLACEHOLDER } from './config.js';
import { waitForHttpHealth, waitForReadyMessage, type HealthResult } from './health-check.js';
import type { Release } from './release-pointer.js';
import { bindSocket, type HeldSocket } from './socket-holder.js';

export const LISTEN_FD = 3;
export const HEALTH_FD = 4;

/** `$$` is the shell's pid, which `exec` hands to the command: LISTEN_PID is then the app's own pid. */
const EXACT_LISTEN_PID_SCRIPT = 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  readonly error?: string;
}

export function describeExit(exit: ExitInfo): string {
  if (exit.error) return `could not start: ${exit.error}`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

export interface AppProcessOptions {
  readonly release: Release;
  readonly command: readonly string[];
  readonly listenFd: number;
  readonly health: HealthConfig;
  readonly exactListenPid: boolean;
  /** The supervisor's environment, passed on (minus its own LISTEN_* variables). */
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
}

function childEnv(options: AppProcessOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...options.env };
  for (const name of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'HOSTPLANE_HEALTH_FD']) delete env[name];
  env.LISTEN_FDS = '1';
  env.LISTEN_FDNAMES = 'http';
  env.HOSTPLANE_RELEASE_ID = options.release.id;
  env.HOSTPLANE_RELEASE_DIR = options.release.dir;
  env.HOSTPLANE_HEALTH_PATH = options.health.path;
  if (options.health.mode === 'http') env.HOSTPLANE_HEALTH_FD = String(HEALTH_FD);
  return env;
}

function commandFor(options: AppProcessOptions): { file: string; args: string[] } {
  const argv = options.command.map((arg) =>
    arg.replaceAll(RELEASE_DIR_PLACEHOLDER, options.release.dir).replaceAll(RELEASE_ID_PLACEHOLDER, options.release.id),
  );
  if (options.exactListenPid) return { file: '/bin/sh', args: ['-c', EXACT_LISTEN_PID_SCRIPT, 'hostplane-app', ...argv] };
  const [file = '', ...args] = argv;
  return { file, args };
}

export class AppProcess {
  readonly release: Release;
  readonly startedAt = Date.now();
  /** Resolves once the process has exited (or failed to start); never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** When its health check passed. */
  healthyAt: number | undefined;
  /** Set once the supervisor asked it to stop: its exit is then not a crash. */
  stopRequested = false;
  private exitInfo: ExitInfo | undefined;
  private draining: Promise<ExitInfo> | undefined;
  private readonly child: ChildProcess;
  private readonly healthSocket: HeldSocket | undefined;
  private readonly options: AppProcessOptions;

  private constructor(options: AppProcessOptions) {
    this.options = options;
    this.release = options.release;
    this.healthSocket = options.health.mode === 'http' ? bindSocket('127.0.0.1', 0) : undefined;
    const { file, args } = commandFor(options);
    try {
      this.child = spawn(file, args, {
        cwd: options.release.dir,
        env: childEnv(options),
        stdio: ['ignore', 'pipe', 'pipe', options.listenFd, this.healthSocket?.fd ?? 'ignore', 'ipc'],
      });
    } finally {
      // The child has its own copy now; the supervisor must not keep (or poll) it.
      this.healthSocket?.close();
    }
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.on('error', (error) => {
        // Only a failed spawn leaves no process behind; other errors (a failed kill or send) do not end it.
        if (this.child.pid === undefined) resolve({ code: null, signal: null, error: error.message });
      });
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    }).then((info) => (this.exitInfo = info));
    this.forwardOutput();
  }

  /** Starts the release's command on the shared socket. */
  static start(options: AppProcessOptions): AppProcess {
    return new AppProcess(options);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How it ended, once it has. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Waits until it is ready to take traffic over, it exits, or the health deadline passes. */
  async waitHealthy(): Promise<HealthResult> {
    const { health } = this.options;
    const gone = this.exited.then(describeExit);
    const result =
      this.healthSocket && health.mode === 'http'
        ? await waitForHttpHealth({ port: this.healthSocket.port, path: health.path, timeoutMs: health.timeoutMs, intervalMs: health.intervalMs, gone })
        : await waitForReadyMessage(this.child, health.timeoutMs, gone);
    if (result.ok) this.healthyAt = Date.now();
    return result;
  }

  /**
   * SIGTERM (the app stops accepting, answers further requests on old connections with
   * `Connection: close` and lets idle ones close), then SIGKILL if it has not exited by the deadline.
   */
  drain(deadlineMs: number): Promise<ExitInfo> {
    this.stopRequested = true;
    this.draining ??= this.exitInfo ? Promise.resolve(this.exitInfo) : this.signalThenKill(deadlineMs);
    return this.draining;
  }

  private async signalThenKill(deadlineMs: number): Promise<ExitInfo> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), deadlineMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills it at once. */
  async kill(): Promise<ExitInfo> {
    this.stopRequested = true;
    if (this.exitInfo) return this.exitInfo;
    this.signal('SIGKILL');
    return this.exited;
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.exitInfo || this.child.pid === undefined) return;
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  private forwardOutput(): void {
    const prefix = `[${this.release.id} ${this.child.pid ?? '-'}]`;
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.options.log(`${prefix} ${line}`));
    }
  }
}
