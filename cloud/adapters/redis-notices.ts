import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { ValidationError, errorMessage } from '../../lambdas/domain/errors.js';
import type { NoticesPort } from '../../lambdas/ports/notices.js';
import { closeRedis, dropRedis } from '../../local/adapters/redis-connection.js';

/** What a notice needs to log in: the control plane's own cache user (allowed `+publish` on `&t:*`). */
export interface RedisNoticesCredentials {
  readonly username: string;
  readonly password: string;
}

export interface RedisNoticesOptions {
  /** The cell's cache endpoint. */
  readonly host: string;
  readonly port: number;
  /**
   * In-transit encryption: ElastiCache with RBAC requires it. The server's certificate is verified
   * (chain and host name) against Node's store, which holds the Amazon roots ElastiCache chains to.
   */
  readonly tls: boolean;
  /**
   * PEM of a further CA to trust besides Node's bundled roots: a stand-in cache's private CA, say
   * (a process can set NODE_EXTRA_CA_CERTS instead). @default none
   */
  readonly ca?: string;
  /** Static credentials; without them and without `credentials`, the `default` user. */
  readonly username?: string;
  readonly password?: string;
  /**
   * Finds the credentials when the first notice is sent (say, by reading the control plane's cache
   * secret), so building the adapter costs nothing. Asked again after a failed connection.
   */
  readonly credentials?: () => Promise<RedisNoticesCredentials>;
  /** How long connecting may take before the notice is given up. @default 1000 */
  readonly connectTimeoutMs?: number;
  /** How long PUBLISH may take. @default 1000 */
  readonly commandTimeoutMs?: number;
  /** Where a lost notice is reported. @default console.warn */
  readonly log?: (line: string) => void;
}

const DEFAULT_TIMEOUT_MS = 1_000;
const CHANNEL = /^t:[a-z0-9][a-z0-9-]{0,63}:[a-z]{1,32}$/;

/**
 * Notices as Redis PUBLISH on the cell's cache. Best effort, as the port says: a notice that cannot
 * be sent (no connection, a timeout, a refusal) is logged and counts as reaching nobody; it never
 * fails the deploy, because the tenant's runtime polls anyway. One connection, opened on first use
 * and again after it is lost; no background reconnect loop to keep a Lambda busy.
 */
export class RedisNotices implements NoticesPort {
  private readonly options: RedisNoticesOptions;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly log: (line: string) => void;
  private client: Redis | undefined;
  private connecting: Promise<Redis> | undefined;

  constructor(options: RedisNoticesOptions) {
    this.options = options;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.log ?? ((line) => console.warn(line));
  }

  /** Publishes `message` on a tenant channel (`t:<tenant>:<word>`); resolves 0 when the notice is lost. */
  async notify(channel: string, message: string): Promise<number> {
    if (!CHANNEL.test(channel)) throw new ValidationError('channel', `must be a tenant channel like t:<tenant>:deploy, got ${JSON.stringify(channel)}`);
    let client: Redis | undefined;
    try {
      client = await this.connected();
      return await client.publish(channel, message);
    } catch (error) {
      this.log(`notice on ${channel} not sent (${errorMessage(error)}); the runtime's poll will find the change`);
      if (client) this.drop(client);
      return 0;
    }
  }

  /** Closes the connection, if there is one. The adapter reconnects if used again. */
  async close(): Promise<void> {
    const connecting = this.connecting;
    if (connecting) await connecting.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await closeRedis(client);
  }

  private async connected(): Promise<Redis> {
    if (this.client?.status === 'ready') return this.client;
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<Redis> {
    if (this.client) this.drop(this.client);
    const { host, port, tls } = this.options;
    const { username, password } = this.options.credentials ? await this.options.credentials() : this.options;
    let lastError: unknown;
    const client = new Redis({
      host,
      port,
      username,
      password,
      tls: tls ? tlsOptions(this.options.ca) : undefined,
      lazyConnect: true,
      connectTimeout: this.connectTimeoutMs,
      commandTimeout: this.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      // The ready check runs INFO, which the publishing user is not allowed.
      enableReadyCheck: false,
      disableClientInfo: true,
    });
    client.on('error', (error: unknown) => {
      lastError = error;
    });
    try {
      await client.connect();
    } catch (error) {
      dropRedis(client);
      throw lastError ?? error;
    }
    this.client = client;
    return client;
  }

  private drop(client: Redis): void {
    if (this.client === client) this.client = undefined;
    dropRedis(client);
  }
}

/** Verifying TLS: Node's default trust (bundled roots and NODE_EXTRA_CA_CERTS); with `ca`, its bundled roots plus `ca` (a `ca` alone would replace them). */
function tlsOptions(ca: string | undefined): ConnectionOptions {
  return ca === undefined ? { rejectUnauthorized: true } : { rejectUnauthorized: true, ca: [...rootCertificates, ca] };
}

