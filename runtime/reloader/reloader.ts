/**
 * The reloader: a supervisor that holds the tenant's listening socket and hot-swaps app releases
 * behind it (see DESIGN.md, "The runtime in the tenant's container", and README.md here).
 *
 *   const reloader = await startReloader({ appDir, port: 8080 });
 *   reloader.wake();          // a push notice: read `current` now
 *   await reloader.stop();    // drain every app process, close the socket
 */
import { resolveReloaderConfig, type ReloaderConfig, type ReloaderOptions } from './config.js';
import type { ReloaderHooks } from './events.js';
import { ReleaseWatcher } from './release-watcher.js';
import { startRuntimeHealthServer, type RuntimeHealthReport, type RuntimeHealthServer } from './runtime-health.js';
import { holdListeningSocket, type HeldSocket } from './socket-holder.js';
import { Supervisor } from './supervisor.js';

export interface Reloader {
  readonly config: ReloaderConfig;
  /** The shared public socket. */
  readonly host: string;
  readonly port: number;
  /** Where `/__runtime/healthz` is answered. */
  readonly runtimeHealthUrl: string;
  /** Reads `current` now instead of at the next poll. */
  wake(): void;
  report(): RuntimeHealthReport;
  /** Drains every app process (SIGKILL at the drain deadline), then closes the sockets. */
  stop(): Promise<void>;
}

function defaultLog(line: string): void {
  process.stderr.write(`reloader: ${line}\n`);
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startReloader(options: ReloaderOptions, hooks: ReloaderHooks = {}): Promise<Reloader> {
  const config = resolveReloaderConfig(options);
  const log = hooks.log ?? defaultLog;
  const socket: HeldSocket = await holdListeningSocket(config.host, config.port);
  let healthServer: RuntimeHealthServer | undefined;
  try {
    const releaseWatcher = new ReleaseWatcher({
      appDir: config.appDir,
      intervalMs: config.pollIntervalMs,
      onReading: (reading, changed) => supervisor.onReading(reading, changed),
      onError: (error) => log(`cannot read current: ${error instanceof Error ? error.message : String(error)}`),
    });
    const supervisor = new Supervisor({
      config,
      listenFd: socket.fd,
      listenPort: socket.port,
      env: hooks.env ?? process.env,
      log,
      emit: (event) => hooks.onEvent?.(event),
      watcherState: () => ({ lastPollAt: releaseWatcher.lastPollAt, lastError: releaseWatcher.lastError }),
    });
    healthServer = await startRuntimeHealthServer(config.runtimeHealth.host, config.runtimeHealth.port, () => supervisor.report());
    await releaseWatcher.start();
    const unsubscribe = hooks.wakeOn?.(() => releaseWatcher.wake());
    const runtimeHealth = healthServer;
    let stopped: Promise<void> | undefined;
    log(`holding ${formatHost(socket.host)}:${socket.port}; runtime health on ${formatHost(runtimeHealth.host)}:${runtimeHealth.port}`);
    return {
      config,
      host: socket.host,
      port: socket.port,
      runtimeHealthUrl: `http://${formatHost(runtimeHealth.host)}:${runtimeHealth.port}/__runtime/healthz`,
      wake: () => releaseWatcher.wake(),
      report: () => supervisor.report(),
      stop: () =>
        (stopped ??= (async () => {
          releaseWatcher.stop();
          if (typeof unsubscribe === 'function') unsubscribe();
          try {
            await supervisor.stop();
          } finally {
            socket.close();
            await runtimeHealth.close();
          }
        })()),
    };
  } catch (error) {
    socket.close();
    await healthServer?.close();
    throw error;
  }
}
