/**
 * The reloader against real processes on loopback: 20 swaps under keep-alive load with zero failed
 * requests, a release that fails its health check rolled back, a crashed app restarted with backoff.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isProcessAlive } from '../../local/process-helpers.js';
import { rm } from 'node:fs/promises';
import type { ReloaderEvent } from '../../runtime/reloader/events.js';
import { startReloader, type Reloader } from '../../runtime/reloader/reloader.js';
import { readReleaseStatus, type ReleaseStatus } from '../../runtime/reloader/status-file.js';
import { pollUntil } from '../support/poll.js';
import { get, LoadClient, type ClientReport } from './support/http-load.js';
import { flipCurrent, makeAppDir, publishRelease } from './support/release-dir.js';

const SWAPS = 20;
const CLIENTS = 8;
const MAX_REQUESTS_PER_CLIENT = 60_000;
const releaseId = (n: number): string => `r${String(n).padStart(2, '0')}`;
const rankOf = (id: string): number | undefined => (/^r\d{2}$/.test(id) ? Number(id.slice(1)) : undefined);

async function statusSays(appDir: string, releaseId: string, state: ReleaseStatus['state']): Promise<ReleaseStatus | undefined> {
  const status = await readReleaseStatus(appDir).catch(() => undefined);
  return status?.releaseId === releaseId && status.state === state ? status : undefined;
}

function startClients(port: number): LoadClient[] {
  return Array.from({ length: CLIENTS }, () => new LoadClient(port, rankOf, MAX_REQUESTS_PER_CLIENT));
}

function summarize(reports: readonly ClientReport[]): { ok: number; failures: string[]; backwards: string[]; connectionCloses: number } {
  return {
    ok: reports.reduce((sum, r) => sum + r.ok, 0),
    failures: reports.flatMap((r) => r.failures),
    backwards: reports.flatMap((r) => r.backwards),
    connectionCloses: reports.reduce((sum, r) => sum + r.connectionCloses, 0),
  };
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};

describe('reloader: hot swaps on one held socket', () => {
  let appDir: string;
  let reloader: Reloader | undefined;
  let clients: LoadClient[] = [];
  const events: ReloaderEvent[] = [];
  const logLines: string[] = [];
  const pids = new Set<number>();
  const eventsOf = <T extends ReloaderEvent['type']>(type: T): Extract<ReloaderEvent, { type: T }>[] =>
    events.filter((event): event is Extract<ReloaderEvent, { type: T }> => event.type === type);

  beforeAll(async () => {
    appDir = await makeAppDir();
    await publishRelease(appDir, releaseId(0));
    await flipCurrent(appDir, releaseId(0));
    reloader = await startReloader(
      {
        appDir,
        port: 0,
        pollIntervalMs: 200,
        health: { timeoutMs: 3_000, intervalMs: 20 },
        drainDeadlineMs: 10_000,
        restartBackoff: { initialMs: 300, maxMs: 5_000, resetAfterMs: 30_000 },
      },
      {
        log: (line) => logLines.push(line),
        onEvent: (event) => {
          events.push(event);
          if ((event.type === 'started' || event.type === 'swapped') && event.pid !== undefined) pids.add(event.pid);
        },
      },
    );
    await pollUntil(() => statusSays(appDir, releaseId(0), 'healthy'), { what: 'the first release to be healthy' });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    if (reloader) {
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([reloader.stop().then(() => true), new Promise<false>((resolve) => (timer = setTimeout(resolve, 20_000, false)))]);
      clearTimeout(timer);
      // Only if the reloader could not stop them: its children are otherwise reaped by now.
      if (!stopped) for (const pid of pids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    await rm(appDir, { recursive: true, force: true });
  }, 30_000);

  it('serves the first release on fd 3 with the systemd socket-activation variables', async () => {
    const info = JSON.parse((await get(reloader!.port, '/info')).body) as { releaseId: string; pid: number; listenPid: string; listenFds: string };
    expect(info).toMatchObject({ releaseId: releaseId(0), listenFds: '1', listenPid: String(info.pid) });
    expect(reloader!.report()).toMatchObject({ status: 'ok', app: { state: 'healthy', releaseId: releaseId(0), pid: info.pid } });
  });

  it(`swaps ${SWAPS} times under keep-alive load without a single failed request`, async () => {
    clients = startClients(reloader!.port);
    await pollUntil(() => (clients.every((client) => client.last === releaseId(0)) ? true : undefined), { what: 'every client to be served' });
    const toAllClients: number[] = [];
    for (let n = 1; n <= SWAPS; n += 1) {
      const id = releaseId(n);
      await publishRelease(appDir, id);
      const flippedAt = Date.now();
      await flipCurrent(appDir, id, n % 2 === 0 ? 'symlink' : 'file');
      if (n % 4 === 0) reloader!.wake(); // as a cache notice would
      await pollUntil(() => statusSays(appDir, id, 'healthy'), { what: `${id} to be healthy`, intervalMs: 10 });
      await pollUntil(() => (clients.every((client) => client.last === id) ? true : undefined), { what: `every client to move to ${id}`, intervalMs: 5 });
      toAllClients.push(Date.now() - flippedAt);
    }
    const reports = await Promise.all(clients.map((client) => client.stop()));
    clients = [];
    const total = summarize(reports);

    const swaps = eventsOf('swapped');
    const swapMs = swaps.map((event) => event.ms);
    process.stdout.write(
      `reloader swap test: ${total.ok + total.failures.length} requests, ${total.failures.length} failed, ` +
        `${total.connectionCloses} answered with Connection: close; ${SWAPS} swaps, pointer seen -> new healthy ` +
        `p50 ${percentile(swapMs, 50)} ms p95 ${percentile(swapMs, 95)} ms max ${Math.max(...swapMs)} ms; ` +
        `flip -> all ${CLIENTS} clients on the new release p50 ${percentile(toAllClients, 50)} ms p95 ${percentile(toAllClients, 95)} ms\n`,
    );
    expect(total.failures).toEqual([]);
    expect(total.backwards).toEqual([]);
    expect(total.ok).toBeGreaterThan(SWAPS * CLIENTS * 10);
    expect(swaps.map((event) => event.to)).toEqual(Array.from({ length: SWAPS }, (_, i) => releaseId(i + 1)));
    // Every old process drained and exited 0 on its own, none was killed at the deadline.
    await pollUntil(() => (eventsOf('stopped').length >= SWAPS ? true : undefined), { what: 'every old process to exit', timeoutMs: 20_000 });
    expect(eventsOf('stopped').filter((event) => !event.clean)).toEqual([]);
    expect(reloader!.report().app).toMatchObject({ state: 'healthy', releaseId: releaseId(SWAPS), swaps: SWAPS, draining: 0, crashes: 0 });
  }, 60_000);

  it('keeps the old release serving when a new one fails its health check, and reports it in status.json', async () => {
    const serving = releaseId(SWAPS);
    const servingPid = reloader!.report().app.pid;
    clients = startClients(reloader!.port);

    await publishRelease(appDir, 'bad-health', 'unhealthy');
    await flipCurrent(appDir, 'bad-health');
    const unhealthy = await pollUntil(() => statusSays(appDir, 'bad-health', 'failed'), { what: 'bad-health to be reported failed' });
    expect(unhealthy.reason).toMatch(/not healthy within 3000 ms \(GET \/healthz answered 503\)/);

    await publishRelease(appDir, 'bad-start', 'exit-on-start');
    await flipCurrent(appDir, 'bad-start', 'file');
    const crashing = await pollUntil(() => statusSays(appDir, 'bad-start', 'failed'), { what: 'bad-start to be reported failed' });
    expect(crashing.reason).toMatch(/exited with code 1 before becoming healthy/);

    await flipCurrent(appDir, 'no-such-release');
    const missing = await pollUntil(() => statusSays(appDir, 'releases/no-such-release', 'failed'), { what: 'a missing release to be reported' });
    expect(missing.reason).toMatch(/does not exist/);

    // The deploy state machine rolls back by flipping `current` back.
    await flipCurrent(appDir, serving);
    await pollUntil(() => statusSays(appDir, serving, 'healthy'), { what: 'the rollback to be reported healthy' });

    const total = summarize(await Promise.all(clients.map((client) => client.stop())));
    clients = [];
    expect(total.failures).toEqual([]);
    expect(total.ok).toBeGreaterThan(0);
    expect(reloader!.report().app).toMatchObject({ state: 'healthy', releaseId: serving, pid: servingPid });
    expect(eventsOf('release-failed').map((event) => event.releaseId)).toEqual(['bad-health', 'bad-start']);
    // The unhealthy process was stopped, not left running.
    await pollUntil(() => (eventsOf('stopped').some((event) => event.releaseId === 'bad-health') ? true : undefined), { what: 'bad-health to be stopped' });
  }, 30_000);

  it('restarts a crashed app with exponential backoff; connections wait meanwhile instead of being refused', async () => {
    const serving = releaseId(SWAPS);
    const first = reloader!.report().app.pid!;
    process.kill(first, 'SIGKILL');
    await pollUntil(() => (reloader!.report().app.crashes === 1 ? true : undefined), { what: 'the crash to be noticed' });
    // Nothing serves for the backoff delay: the held socket queues this connection until the restart.
    expect((await get(reloader!.port, '/')).body).toBe(serving);
    const second = await pollUntil(() => {
      const { app } = reloader!.report();
      return app.state === 'healthy' && app.pid !== first ? app.pid! : undefined;
    }, { what: 'the app to be restarted' });
    pids.add(second);

    process.kill(second, 'SIGKILL');
    await pollUntil(() => {
      const { app } = reloader!.report();
      return app.state === 'healthy' && app.pid !== second && app.restarts === 2 ? true : undefined;
    }, { what: 'the app to be restarted again' });
    expect((await get(reloader!.port, '/')).body).toBe(serving);
    expect(eventsOf('crashed').map((event) => [event.reason, event.restartInMs])).toEqual([
      ['killed by SIGKILL', 300],
      ['killed by SIGKILL', 600],
    ]);
    expect(await statusSays(appDir, serving, 'healthy')).toBeDefined();
  }, 30_000);
});
