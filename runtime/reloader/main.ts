/**
 * The reloader as a process (the tenant container's entrypoint; locally, a tenant's process):
 * configured by environment variables (see config.ts), drains its app processes and exits 0 on
 * SIGTERM/SIGINT, exits 2 on bad configuration and 3 when the address cannot be bound.
 */
import { RuntimeExitCode } from '../tenant-runtime.js';
import { loadReloaderConfig, type ReloaderConfig } from './config.js';
import { startReloader, type Reloader } from './reloader.js';
import { SocketBindError } from './socket-holder.js';
import { isEntryPoint } from '../is-entry-point.js';

function fail(message: string, code: number): never {
  process.stderr.write(`reloader: ${message}\n`);
  process.exit(code);
}

export async function runReloader(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: ReloaderConfig;
  try {
    config = loadReloaderConfig(env);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error), RuntimeExitCode.badConfig);
  }
  let reloader: Reloader;
  try {
    reloader = await startReloader(config);
  } catch (error) {
    const unavailable = error instanceof SocketBindError && (error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL');
    fail(error instanceof Error ? error.message : String(error), unavailable ? RuntimeExitCode.addressUnavailable : RuntimeExitCode.failed);
  }
  process.stdout.write(`reloader ready: app on ${reloader.host}:${reloader.port}, runtime health at ${reloader.runtimeHealthUrl}\n`);

  const stop = (why: string): void => {
    process.stdout.write(`reloader stopping (${why})\n`);
    void reloader.stop().then(
      () => process.exit(RuntimeExitCode.drained),
      (error: unknown) => fail(`stop failed: ${String(error)}`, RuntimeExitCode.failed),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Started by a local supervisor over an IPC channel: never outlive it.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => stop('supervisor gone'));
  }
}

if (isEntryPoint(import.meta.url)) void runReloader();
