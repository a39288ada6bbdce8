/**
 * `/__runtime/healthz`: the reloader's own health, on a loopback socket of its own, apart from the
 * app's. It answers 200 while the runtime works (it holds the socket, it can read `current`), even
 * when the app is failing: "app broken" and "runtime broken" are told apart, the app's state is a
 * field of the answer.
 */
import { createServer, type Server } from 'node:http';

export const RUNTIME_HEALTH_PATH = '/__runtime/healthz';

export type AppState = 'none' | 'starting' | 'healthy' | 'crashed' | 'failed' | 'stopping';

export interface RuntimeHealthReport {
  /** The runtime's own state: `ok`, or `degraded` with reasons. */
  readonly status: 'ok' | 'degraded';
  readonly reasons: readonly string[];
  readonly runtime: {
    readonly pid: number;
    readonly uptimeSeconds: number;
    readonly listen: { readonly host: string; readonly port: number };
    readonly pollIntervalMs: number;
    readonly lastPollAt: string | null;
    readonly lastPollError: string | null;
  };
  readonly app: {
    readonly state: AppState;
    /** The release being served (or started, when none is served yet). */
    readonly releaseId: string | null;
    readonly pid: number | null;
    /** The release `current` names. */
    readonly targetReleaseId: string | null;
    /** Unexpected exits of the serving process. */
    readonly crashes: number;
    /** Processes that became healthy after a crash or a failure. */
    readonly restarts: number;
    readonly swaps: number;
    readonly draining: number;
    readonly lastExit: { readonly releaseId: string; readonly pid: number | null; readonly reason: string; readonly at: string } | null;
    readonly lastFailure: { readonly releaseId: string; readonly reason: string; readonly at: string } | null;
  };
}

export interface RuntimeHealthServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startRuntimeHealthServer(host: string, port: number, report: () => RuntimeHealthReport): Promise<RuntimeHealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== RUNTIME_HEALTH_PATH) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: 'not found', path }));
      return;
    }
    const body = report();
    res
      .writeHead(body.status === 'ok' ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
      .end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    host,
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
