/** Keep-alive HTTP clients for the reloader tests: each sends one request after another on its own agent. */
import { Agent, request } from 'node:http';

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

export function get(port: number, path: string, agent: Agent | false = false, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface ClientReport {
  readonly ok: number;
  readonly failures: readonly string[];
  /** Answers that went back to an older release than one this client had already seen. */
  readonly backwards: readonly string[];
  readonly connectionCloses: number;
}

/**
 * One client: requests `/` until told to stop or `maxRequests` is reached. `rank` orders release
 * ids (undefined: a release that should never answer, counted as a failure).
 */
export class LoadClient {
  private ok = 0;
  private connectionCloses = 0;
  private readonly failures: string[] = [];
  private readonly backwards: string[] = [];
  private lastRank = -1;
  private lastBody: string | undefined;
  private stopping = false;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  readonly done: Promise<ClientReport>;

  constructor(
    private readonly port: number,
    private readonly rank: (releaseId: string) => number | undefined,
    private readonly maxRequests: number,
  ) {
    this.done = this.run();
  }

  /** The release id of the last answer. */
  get last(): string | undefined {
    return this.lastBody;
  }

  get requests(): number {
    return this.ok + this.failures.length;
  }

  stop(): Promise<ClientReport> {
    this.stopping = true;
    return this.done;
  }

  private async run(): Promise<ClientReport> {
    try {
      while (!this.stopping && this.requests < this.maxRequests) {
        try {
          const reply = await get(this.port, '/', this.agent);
          this.record(reply);
        } catch (error) {
          this.failures.push(`${(error as NodeJS.ErrnoException).code ?? ''} ${(error as Error).message}`.trim());
        }
      }
    } finally {
      this.agent.destroy();
    }
    return { ok: this.ok, failures: this.failures, backwards: this.backwards, connectionCloses: this.connectionCloses };
  }

  private record(reply: Reply): void {
    const rank = this.rank(reply.body);
    if (reply.status !== 200 || rank === undefined) {
      this.failures.push(`status ${reply.status}: ${reply.body.slice(0, 80)}`);
      return;
    }
    this.ok += 1;
    if (reply.headers.connection === 'close') this.connectionCloses += 1;
    if (rank < this.lastRank) this.backwards.push(`${this.lastBody} -> ${reply.body}`);
    this.lastRank = Math.max(rank, this.lastRank);
    this.lastBody = reply.body;
  }
}
