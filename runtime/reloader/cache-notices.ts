/**
 * Deploy notices on the tenant's cache channel (`t:<tenant>:deploy`): each message wakes the
 * release watcher, so a new release is seen long before the next poll of `current`.
 *
 * The subscriber runs as the tenant's own cache user, whose ACL allows keys and channels
 * `t:<tenant>:*` only and no `@dangerous` command: it subscribes to exactly one channel (never a
 * pattern), skips the ready check (INFO) and the client info (CLIENT SETINFO), and stays in
 * database 0 (no SELECT). The notices only make the reloader quicker: a Redis that is down or
 * refuses is logged once, ioredis retries with backoff, and polling carries on meanwhile.
 */
import { Redis } from 'ioredis';

export interface CacheNoticesOptions {
  /** `redis://[user:password@]host:port` (or `rediss://`), as the tenant's app gets it in `REDIS_URL`. */
  readonly url: string;
  /** The one channel to subscribe to: `<HOSTPLANE_CACHE_PREFIX>deploy`. */
  readonly channel: string;
  /** Called on every message on the channel, and once after a lost subscription is back (a notice may have been missed). */
  readonly wake: () => void;
  readonly log: (line: string) => void;
  /** First and longest delay between two connection attempts. @default { initialMs: 250, maxMs: 10_000 } */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

export interface CacheNotices {
  /** Unsubscribes and closes the connection (or stops retrying). Safe to call more than once. */
  close(): Promise<void>;
}

/** No glob characters: SUBSCRIBE takes it literally, but a pattern-looking name is a mistake upstream. */
const CHANNEL = /^[A-Za-z0-9:._-]{1,200}$/;
const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 10_000 } as const;
const QUIT_TIMEOUT_MS = 1_000;

/** Throws on a URL that is not `redis://`/`rediss://` or a channel that is not one plain name (no pattern). */
function checkSettings(url: string, channel: string): void {
  if (!/^rediss?:\/\/[^/]/.test(url) || !URL.canParse(url)) throw new Error('cache notices: the URL must be redis:// or rediss://');
  if (!CHANNEL.test(channel)) throw new Error(`cache notices: ${JSON.stringify(channel)} is not a channel name (A-Z a-z 0-9 : . _ -)`);
}

/** The URL without its password, fit for logs. */
export function shownRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(unparsable Redis URL)';
  }
}

function describeError(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ETIMEDOUT') return 'no answer';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found';
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * Subscribes to `channel` on a dedicated connection and calls `wake` on each message. Never
 * throws for an unreachable or refusing Redis, only for a malformed URL or channel.
 */
export function subscribeToCacheNotices(options: CacheNoticesOptions): CacheNotices {
  const { url, channel, wake, log } = options;
  checkSettings(url, channel);
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const where = `${channel} at ${shownRedisUrl(url)}`;

  let closed = false;
  /** The subscription held at least once. */
  let everSubscribed = false;
  /** A problem has been logged and nothing has worked since: stay quiet until it heals. */
  let troubled = false;

  const redis = new Redis(url, {
    // No command the tenant's cache user may not run: no INFO (ready check), no CLIENT SETINFO,
    // no SELECT (database 0).
    enableReadyCheck: false,
    disableClientInfo: true,
    db: 0,
    // SUBSCRIBE is sent on each `ready` below, so that the subscription is confirmed each time.
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 5_000,
    retryStrategy: (times) => {
      const delay = Math.min(backoff.initialMs * 2 ** Math.min(times - 1, 20), backoff.maxMs);
      return Math.round(delay * (0.8 + Math.random() * 0.4));
    },
  });

  const trouble = (what: string): void => {
    if (closed || troubled) return;
    troubled = true;
    log(`${what}; polling current only, retrying in the background`);
  };

  redis.on('error', (error: unknown) => trouble(`deploy notices from ${where} unavailable (${describeError(error)})`));
  // A server that accepts and hangs up raises no 'error': the close says it.
  redis.on('close', () => trouble(`deploy notices from ${where} ${everSubscribed ? 'lost' : 'unavailable (connection closed)'}`));
  redis.on('message', (from: string) => {
    if (from === channel) wake();
  });
  redis.on('ready', () => void subscribe());

  async function subscribe(): Promise<void> {
    try {
      await redis.subscribe(channel);
    } catch (error) {
      if (closed) return;
      // Redis answered no (NOPERM: the channel is not the user's): retrying will not help.
      if (error instanceof Error && error.name === 'ReplyError') {
        troubled = true;
        log(`deploy notices from ${where} refused (${describeError(error)}); polling current only`);
      }
      // Otherwise the connection went: 'error'/'close' said so, and the next 'ready' tries again.
      return;
    }
    if (closed) return;
    const again = everSubscribed;
    everSubscribed = true;
    troubled = false;
    log(again ? `deploy notices on ${where} are back` : `woken by deploy notices on ${where}`);
    // A notice may have been published before the subscription was in place (or while it was away).
    wake();
  }

  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        closed = true;
        if (redis.status === 'ready') {
          try {
            await Promise.race([
              (async () => {
                await redis.unsubscribe(channel);
                await redis.quit();
              })(),
              new Promise((resolve) => setTimeout(resolve, QUIT_TIMEOUT_MS).unref()),
            ]);
          } catch {
            // The connection is going anyway.
          }
        }
        // ioredis's disconnect() on a stream that has already ended arms a timer nothing clears.
        if (redis.status !== 'end') redis.disconnect();
      })()),
  };
}
