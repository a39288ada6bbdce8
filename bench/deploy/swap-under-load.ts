/**
 * Part 1, swap under load: a generated app's releases A and B on a throw-away database; for the
 * reloader and then the baseline, load clients on the supervisor's port while `current` flips
 * A→B→A…, each swap timed until every client has had an answer from the new release.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { AppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { planMigration } from '../../lambdas/app-definition/migration-plan.js';
import { compileApp } from '../../lambdas/codegen/compile-app.js';
import { generateApp } from '../../lambdas/codegen/generate-app.js';
import { freeLoopbackPort } from '../../local/process-helpers.js';
import { tempFolder, type Cleanup } from '../support/cleanup.js';
import { errorText, fmt, table } from '../support/format.js';
import { withAdmin } from '../support/postgres.js';
import { round, stats, type Stats } from '../support/stats.js';
import { now, sleep, until } from '../support/time.js';
import type { BenchDatabase } from './bench-database.js';
import { emptyWindow, LoadWorker, type WindowStats } from './load-worker.js';
import { CURRENT_POLL_MS, withExtraFields, type BenchOptions } from './options.js';
import { flipCurrent, NaiveSupervisor, startReloaderSupervisor, type SwapSupervisor } from './supervisors.js';

type Mode = 'reloader' | 'baseline';

interface SwapRecord {
  readonly index: number;
  readonly from: string;
  readonly to: string;
  readonly ok: boolean;
  /** Flip → first answer from the new release (any client). */
  readonly firstNewMs: number | null;
  /** The supervisor saw the new `current` → first answer from the new release (the poll's phase left out). */
  readonly seenToNewMs: number | null;
  /** Flip → every client has had an answer from the new release. */
  readonly allNewMs: number | null;
  /** Flip → the old release's process has exited. */
  readonly oldGoneMs: number | null;
  readonly requests: number;
  readonly failed: number;
  readonly maxGapMs: number | null;
  readonly supervisor: Record<string, number | null>;
  readonly error?: string;
}

type PendingSwap = Omit<SwapRecord, 'requests' | 'failed' | 'maxGapMs'>;

interface ModeResult {
  readonly mode: Mode;
  readonly swaps: readonly SwapRecord[];
  readonly completed: number;
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  readonly failuresByKind: Record<string, number>;
  readonly failureSamples: readonly string[];
  readonly swapsWithFailures: number;
  readonly wallMs: number;
  readonly okPerSecond: number | null;
  readonly firstNewMs: Stats;
  readonly seenToNewMs: Stats;
  readonly allNewMs: Stats;
  readonly oldGoneMs: Stats;
  readonly maxGapMs: Stats;
  readonly supervisor: Record<string, Stats>;
  readonly error?: string;
}

export interface SwapPartResult {
  readonly app: string;
  readonly releases: { readonly a: string; readonly b: string };
  readonly database: 'embedded' | 'external';
  readonly modes: readonly ModeResult[];
  readonly ratios: Record<string, number | null> | null;
}

interface Release {
  readonly id: string;
  readonly files: Readonly<Record<string, string | Uint8Array>>;
}

async function buildRelease(definition: AppDefinition): Promise<Release> {
  const compiled = await compileApp(generateApp(definition));
  return { id: compiled.releaseId, files: compiled.files };
}

async function writeRelease(appDir: string, release: Release): Promise<void> {
  for (const [path, content] of Object.entries(release.files)) {
    const target = join(appDir, 'releases', release.id, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

/** A tenant database as provisioning makes one: its own login role, an `app` schema it owns, migrated to `definition`. */
async function createSwapDatabase(cleanup: Cleanup, adminUrl: string, definition: AppDefinition): Promise<string> {
  const name = `hpbench_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  cleanup.add(`database and role ${name}`, () =>
    withAdmin(adminUrl, undefined, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.query(`DROP ROLE IF EXISTS "${name}"`);
    }),
  );
  await withAdmin(adminUrl, undefined, async (client) => {
    await client.query(`CREATE ROLE "${name}" LOGIN NOINHERIT NOCREATEDB NOCREATEROLE CONNECTION LIMIT 20 PASSWORD '${password}'`);
    await client.query(`CREATE DATABASE "${name}"`);
    await client.query(`REVOKE ALL ON DATABASE "${name}" FROM PUBLIC`);
    await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE "${name}" TO "${name}"`);
  });
  await withAdmin(adminUrl, name, async (client) => {
    await client.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
    await client.query(`CREATE SCHEMA app AUTHORIZATION "${name}"`);
  });
  const url = new URL(adminUrl);
  url.username = name;
  url.password = password;
  url.pathname = `/${name}`;
  const tenant = new pg.Client({ connectionString: url.toString() });
  await tenant.connect();
  try {
    await tenant.query('BEGIN');
    for (const step of planMigration(null, definition, { allowDestructive: false }).steps) await tenant.query(step.sql);
    await tenant.query('COMMIT');
  } finally {
    await tenant.end().catch(() => undefined);
  }
  return url.toString();
}

function sumFailures(into: Record<string, number>, from: Record<string, number>): void {
  for (const [kind, count] of Object.entries(from)) into[kind] = (into[kind] ?? 0) + count;
}

const failedCount = (w: WindowStats): number => w.requests - w.ok;

async function runMode(
  mode: Mode,
  supervisor: SwapSupervisor,
  appDir: string,
  a: string,
  b: string,
  options: BenchOptions,
  stopping: () => boolean,
): Promise<ModeResult> {
  const timeoutMs = options.timeoutSeconds * 1000;
  const load = new LoadWorker(supervisor.port, options.clients, [a, b], options.retryPauseMs);
  const swaps: SwapRecord[] = [];
  const failuresByKind: Record<string, number> = {};
  let requests = 0;
  let ok = 0;
  let error: string | undefined;
  let samples: readonly string[];
  let measuredFrom = now();
  let measuredTo: number;
  try {
    // Warm-up: every client has an answer from A (the app is up and each connection is open).
    const warm = load.openWindow(a);
    try {
      await until(warm.all, now() + timeoutMs, `${mode}: every client answered by release A`);
    } catch (warmError) {
      for (const line of supervisor.log.tail()) console.log(`    | ${line}`);
      throw warmError;
    }
    await sleep(500);

    // A swap's load figures arrive when the next window opens (or the clients stop): until then
    // its record waits here. The warm-up window's figures are dropped.
    let pending: PendingSwap | undefined;
    const settle = async (closed: Promise<WindowStats | undefined>, record: PendingSwap | undefined) => {
      const stats = (await closed) ?? emptyWindow();
      if (!record) return;
      requests += stats.requests;
      ok += stats.ok;
      sumFailures(failuresByKind, stats.failures);
      const full: SwapRecord = { ...record, requests: stats.requests, failed: failedCount(stats), maxGapMs: round(stats.maxGapMs) };
      swaps.push(full);
      console.log(swapLine(mode, full, options.swaps));
    };

    for (let i = 1; i <= options.swaps && !stopping(); i++) {
      const from = i % 2 === 1 ? a : b;
      const to = i % 2 === 1 ? b : a;
      const window = load.openWindow(to);
      const flippedAt = now();
      if (i === 1) measuredFrom = flippedAt;
      await flipCurrent(appDir, to);
      await settle(window.closed, pending);
      pending = undefined;
      const deadline = flippedAt + timeoutMs;
      try {
        const firstAt = await until(window.first, deadline, `swap ${i}: first answer from ${to}`);
        const allAt = await until(window.all, deadline, `swap ${i}: every client answered by ${to}`);
        await supervisor.gone(from, deadline);
        const goneAt = now();
        const detail = supervisor.detail(to, flippedAt);
        pending = {
          index: i,
          from,
          to,
          ok: true,
          firstNewMs: round(firstAt - flippedAt),
          seenToNewMs: detail.seenMs === null || detail.seenMs === undefined ? null : round(firstAt - flippedAt - detail.seenMs),
          allNewMs: round(allAt - flippedAt),
          oldGoneMs: round(goneAt - flippedAt),
          supervisor: detail,
        };
      } catch (swapError) {
        error = `swap ${i} (${from} → ${to}): ${errorText(swapError)}`;
        pending = { index: i, from, to, ok: false, firstNewMs: null, seenToNewMs: null, allNewMs: null, oldGoneMs: null, supervisor: supervisor.detail(to, flippedAt), error };
        console.log(`  [${mode}] swap ${i} FAILED: ${errorText(swapError)}`);
        for (const line of supervisor.log.tail()) console.log(`    | ${line}`);
        break;
      }
      // Spread the flips over the supervisors' 1 s poll, so both see them at random phases.
      await sleep(options.settleMs + Math.random() * CURRENT_POLL_MS);
    }
    measuredTo = now();
    const stopped = await load.stop();
    samples = stopped.samples;
    await settle(Promise.resolve(stopped.closed), pending);
  } finally {
    await load.terminate();
  }

  const done = swaps.filter((s) => s.ok);
  const values = (pick: (s: SwapRecord) => number | null) => done.map(pick).filter((v): v is number => v !== null);
  const supervisorKeys = [...new Set(done.flatMap((s) => Object.keys(s.supervisor)))];
  const wallMs = measuredTo - measuredFrom;
  return {
    mode,
    swaps,
    completed: done.length,
    requests,
    ok,
    failed: requests - ok,
    failuresByKind,
    failureSamples: samples,
    swapsWithFailures: swaps.filter((s) => s.failed > 0).length,
    wallMs: round(wallMs) ?? 0,
    okPerSecond: round(ok / (wallMs / 1000)),
    firstNewMs: stats(values((s) => s.firstNewMs)),
    seenToNewMs: stats(values((s) => s.seenToNewMs)),
    allNewMs: stats(values((s) => s.allNewMs)),
    oldGoneMs: stats(values((s) => s.oldGoneMs)),
    maxGapMs: stats(values((s) => s.maxGapMs)),
    supervisor: Object.fromEntries(supervisorKeys.map((key) => [key, stats(values((s) => s.supervisor[key] ?? null))])),
    ...(error ? { error } : {}),
  };
}

function swapLine(mode: Mode, s: SwapRecord, total: number): string {
  const head = `  [${mode.padEnd(8)} ${String(s.index).padStart(String(total).length)}/${total}] ${s.from.slice(0, 8)} → ${s.to.slice(0, 8)}`;
  if (!s.ok) return `${head} FAILED — ${s.error}`;
  const detail = Object.entries(s.supervisor)
    .map(([key, value]) => `${key} ${fmt(value)}`)
    .join(', ');
  return `${head}  new after ${fmt(s.firstNewMs).padStart(4)} ms (seen +${fmt(s.seenToNewMs)}), all clients ${fmt(s.allNewMs).padStart(4)}, old gone ${fmt(s.oldGoneMs).padStart(4)}; ${String(s.failed).padStart(3)} failed of ${s.requests}, longest gap ${fmt(s.maxGapMs)} ms (${detail})`;
}

export async function runSwapPart(
  cleanup: Cleanup,
  options: BenchOptions,
  db: BenchDatabase,
  base: AppDefinition,
  stopping: () => boolean,
): Promise<SwapPartResult | undefined> {
  const dir = await tempFolder(cleanup, 'deploy-bench-swap');
  const definitionA = base;
  const definitionB = withExtraFields(base, 1);
  console.log(`\n=== Part 1: swap under load (${options.clients} keep-alive clients, ${options.swaps} swaps per supervisor) ===`);
  console.log(`  app: generated and compiled "${base.name}" (release A: as defined; release B: + nullable field f1 on ${base.entities[0]!.name})`);
  console.log(`  folder ${dir}`);

  if (stopping()) return undefined;
  const tenantUrl = await createSwapDatabase(cleanup, db.adminUrl, definitionB);
  const compileStarted = now();
  const [a, b] = [await buildRelease(definitionA), await buildRelease(definitionB)];
  console.log(`  releases A ${a.id} and B ${b.id} compiled in ${fmt(now() - compileStarted)} ms; database migrated to B's shape (A runs on it too)`);

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: tenantUrl,
    HOSTPLANE_DB_POOL_MAX: '4',
    NODE_ENV: 'production',
  };
  const modes: ModeResult[] = [];
  for (const mode of ['reloader', 'baseline'] as const) {
    if (stopping()) return undefined;
    const appDir = join(dir, mode);
    await mkdir(appDir, { recursive: true });
    await writeRelease(appDir, a);
    await writeRelease(appDir, b);
    await flipCurrent(appDir, a.id);
    let supervisor: SwapSupervisor;
    if (mode === 'reloader') {
      supervisor = await startReloaderSupervisor(appDir, env, options.verbose);
    } else {
      const naive = new NaiveSupervisor(appDir, await freeLoopbackPort(), env, options.verbose);
      supervisor = naive;
      await naive.start();
    }
    const undo = cleanup.add(`stopped the ${mode} and its app processes`, () => supervisor.stop());
    console.log(`\n  ${mode}: ${mode === 'reloader' ? 'startReloader' : 'kill-then-start supervisor'} on 127.0.0.1:${supervisor.port}`);
    try {
      modes.push(await runMode(mode, supervisor, appDir, a.id, b.id, options, stopping));
    } finally {
      cleanup.remove(undo);
      await supervisor.stop().catch((error: unknown) => console.error(`  stopping the ${mode} failed: ${errorText(error)}`));
    }
  }
  const [reloader, baseline] = modes;
  const ratios =
    reloader && baseline
      ? {
          failedRequests: ratio(reloader.failed, baseline.failed),
          failedRequestShare: ratio(reloader.failed / Math.max(1, reloader.requests), baseline.failed / Math.max(1, baseline.requests)),
          timeToNewP50: ratio(reloader.firstNewMs.p50, baseline.firstNewMs.p50),
          timeToNewP95: ratio(reloader.firstNewMs.p95, baseline.firstNewMs.p95),
          seenToNewP50: ratio(reloader.seenToNewMs.p50, baseline.seenToNewMs.p50),
          longestGapP50: ratio(reloader.maxGapMs.p50, baseline.maxGapMs.p50),
          throughput: ratio(reloader.okPerSecond, baseline.okPerSecond),
        }
      : null;
  return { app: `generated ${base.name}`, releases: { a: a.id, b: b.id }, database: db.embedded ? 'embedded' : 'external', modes, ratios };
}

export function reportSwap(result: SwapPartResult): void {
  console.log(`\n=== Swap under load: ${result.app}, A ${result.releases.a} ⇄ B ${result.releases.b} ===`);
  console.log(
    table(
      ['supervisor', 'swaps', 'requests', 'failed', 'swaps w/ fail', 'ok req/s', 'new p50 ms', 'new p95 ms', 'new max ms', 'seen→new p50', 'seen→new p95', 'gap p50 ms', 'gap max ms'],
      result.modes.map((m) => [
        m.mode,
        `${m.completed}/${m.swaps.length}`,
        String(m.requests),
        String(m.failed),
        String(m.swapsWithFailures),
        fmt(m.okPerSecond),
        fmt(m.firstNewMs.p50),
        fmt(m.firstNewMs.p95),
        fmt(m.firstNewMs.max),
        fmt(m.seenToNewMs.p50),
        fmt(m.seenToNewMs.p95),
        fmt(m.maxGapMs.p50),
        fmt(m.maxGapMs.max),
      ]),
    ),
  );
  for (const m of result.modes) {
    const kinds = Object.entries(m.failuresByKind)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ');
    const where = Object.entries(m.supervisor)
      .map(([key, s]) => `${key} p50 ${fmt(s.p50)} / p95 ${fmt(s.p95)}`)
      .join('; ');
    console.log(`  ${m.mode}: failures ${kinds || 'none'}; ${where}${m.error ? `; STOPPED: ${m.error}` : ''}`);
  }
  const [reloader, baseline] = result.modes;
  if (reloader && baseline) {
    console.log(
      `reloader vs baseline: failed requests ${fmtRatio(reloader.failed, baseline.failed)} (${reloader.failed} vs ${baseline.failed}), ` +
        `time to new version p50 ${fmtRatio(reloader.firstNewMs.p50, baseline.firstNewMs.p50)}, p95 ${fmtRatio(reloader.firstNewMs.p95, baseline.firstNewMs.p95)} ` +
        `(from the supervisor seeing it: p50 ${fmtRatio(reloader.seenToNewMs.p50, baseline.seenToNewMs.p50)}), longest gap p50 ${fmtRatio(reloader.maxGapMs.p50, baseline.maxGapMs.p50)}, ` +
        `throughput ${fmtRatio(reloader.okPerSecond, baseline.okPerSecond)}`,
    );
  }
}

/** A ratio, or null when the denominator is 0 (printed as ∞ when the numerator is not). */
function ratio(numerator: number | null, denominator: number | null): number | null {
  if (numerator === null || denominator === null || denominator === 0) return null;
  return round(numerator / denominator, 3);
}

function fmtRatio(numerator: number | null, denominator: number | null): string {
  if (numerator !== null && denominator === 0) return numerator === 0 ? '0/0' : '∞';
  const value = ratio(numerator, denominator);
  return value === null ? '—' : `×${value < 0.01 && value > 0 ? value.toExponential(1) : value.toFixed(value < 1 ? 3 : 2)}`;
}
