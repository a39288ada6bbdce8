/**
 * The reloader as a process (the tenant container's entrypoint; locally, a tenant's process):
 * configured by environment variables (see config.ts), drains its app processes and exits 0 on
 * SIGTERM/SIGINT, exits 2 on bad configuration and 3 when the address cannot be bound. With
 * `REDIS_URL` and `HOSTPLANE_CACHE_PREFIX` (the tenant's app gets the same two), a notice on
 * `<prefix>deploy` wakes it before the next poll of `current`.
 */
import { RuntimeExitCode } from '../exit-codes.js';
import { subscribeToCacheNotices, type CacheNotices } from './cache-notices.js';
import { loadReloaderConfig, type ReloaderConfig } from './config.js';
import { startReloader, type Reloader } from './reloader.js';
import { SocketBindError } from './socket-holder.js';
import { isEntryPoint } from '../is-entry-point.js';

function fail(message: string, code: number): never {
  process.stderr.write(`reloader: ${message}\n`);
  process.exit(code);
}

function log(line: string): void {
  process.stderr.write(`reloader: ${line}\n`);
}

/**
 * The deploy-notice channel `<prefix>deploy`, when both variables are set. A malformed value is bad
 * configuration (the same rules as the generated app's, which gets the same variables).
 */
function cacheNoticeSettings(env: NodeJS.ProcessEnv): { url: string; channel: string } | undefined {
  const url = env.REDIS_URL || undefined;
  const prefix = env.HOSTPLANE_CACHE_PREFIX || undefined;
  if (url === undefined || prefix === undefined) return undefined;
  const problems: string[] = [];
  if (!/^rediss?:\/\/[^/]/.test(url) || !URL.canParse(url)) problems.push('REDIS_URL: must be a redis:// or rediss:// URL');
  if (!/^[A-Za-z0-9:._-]{1,100}$/.test(prefix)) problems.push('HOSTPLANE_CACHE_PREFIX: must be 1 to 100 of A-Z a-z 0-9 : . _ - (e.g. t:acme:)');
  if (problems.length > 0) throw new Error(`bad configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  return { url, channel: `${prefix}deploy` };
}

export async function runReloader(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: ReloaderConfig;
  let notices: { url: string; channel: string } | undefined;
  try {
    config = loadReloaderConfig(env);
    notices = cacheNoticeSettings(env);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error), RuntimeExitCode.badConfig);
  }
  const noticeSettings = notices;
  let subscription: CacheNotices | undefined;
  let reloader: Reloader;
  try {
    reloader = await startReloader(config, {
      log,
      // Subscribed once the first poll is done; a Redis that is down never stops it (cache-notices.ts).
      wakeOn: noticeSettings
        ? (wake) => {
            subscription = subscribeToCacheNotices({ ...noticeSettings, wake, log });
            return () => void subscription?.close();
          }
        : undefined,
    });
  } catch (error) {
    const unavailable = error instanceof SocketBindError && (error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL');
    fail(error instanceof Error ? error.message : String(error), unavailable ? RuntimeExitCode.addressUnavailable : RuntimeExitCode.failed);
  }
  process.stdout.write(`reloader ready: app on ${reloader.host}:${reloader.port}, runtime health at ${reloader.runtimeHealthUrl}\n`);

  const stop = (why: string): void => {
    process.stdout.write(`reloader stopping (${why})\n`);
    void Promise.all([reloader.stop(), subscription?.close()]).then(
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
