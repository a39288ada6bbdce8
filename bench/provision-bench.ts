/**
 * Provision benchmark for the local control plane (see bench/README.md).
 *
 * Starts a whole local control plane in a fresh temporary state folder (embedded PostgreSQL
 * unless --database-url / DATABASE_URL is given), then measures:
 *   1. provision time, tenant after tenant: POST /tenants → operation SUCCEEDED → page 200
 *      through the front door;
 *   2. the same with every tenant POSTed at once, each timed from its own POST;
 *   3. resident memory of each idle tenant process, of the control plane itself and of the
 *      embedded PostgreSQL.
 * Prints one line per tenant, a table, and a `BENCH_JSON {...}` line. Everything it made
 * (processes, databases, roles, cache users, files) is removed at the end, on failure and on
 * Ctrl-C too.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalControlPlane } from '../local/control-plane.js';
import { printBenchJson } from './support/bench-json.js';
import { Cleanup, tempFolder } from './support/cleanup.js';
import { api, describeFailure, frontDoorGet, pollOperation, stateTimings, timesByState, type StateTiming } from './support/control-plane-api.js';
import { CELL, DEFAULT_REDIS_URL, redisLabel, startBenchControlPlane, uniqueEnvironment } from './support/control-plane.js';
import { errorText, fmt, table } from './support/format.js';
import { handleStopSignals, runMain, runThenCleanUp } from './support/lifecycle.js';
import { databaseUrlOption, parseFlags, parseIntegerOption, readCommandLine, redisUrlFromEnvironment, UsageError } from './support/options.js';
import { childrenByPid, kibToMib, processTree, treeMemory } from './support/proc-memory.js';
import { max, mean, median, percentile, round } from './support/stats.js';
import { now, sleep } from './support/time.js';

// ---------------------------------------------------------------------------------------------
// Options

const DEFAULT_TENANTS = 20;
const MAX_TENANTS_PER_PHASE = 100;

interface BenchOptions {
  readonly sequential: number;
  readonly concurrent: number;
  readonly idleSeconds: number;
  readonly timeoutSeconds: number;
  readonly pollMs: number;
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
}

const USAGE = `Usage: npm run bench -- [options]
       npx tsx bench/provision-bench.ts [options]

Provisions tenants on a throw-away local control plane and reports provision time
(one after another, then all at once) and resident memory per idle tenant.

Options:
  --tenants N          tenants in each phase, sequential and concurrent (default ${DEFAULT_TENANTS}, 1-${MAX_TENANTS_PER_PHASE})
  --sequential N       tenants provisioned one after another (overrides --tenants; 0 skips the phase)
  --concurrent N       tenants POSTed all at once (overrides --tenants; 0 skips the phase)
  --idle-seconds S     how long tenants sit idle before memory is read (default 3, 0-600)
  --timeout-seconds S  give up on one tenant after this long (default 120, 1-3600)
  --poll-ms MS         interval between GET /operations/{id} polls (default 50, 5-5000)
  --database-url URL   use this PostgreSQL (admin login) instead of the embedded one
                       (default: $DATABASE_URL if set, else the embedded PostgreSQL)
  -h, --help           show this help

Environment: DATABASE_URL (as --database-url), REDIS_URL (default ${DEFAULT_REDIS_URL}).
Ends with a table and one line "BENCH_JSON {...}". Exit code 0 when every tenant was
provisioned, 1 when any failed, 2 on bad arguments, 130 on Ctrl-C.`;

function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const values = parseFlags(argv, {
    tenants: { type: 'string' },
    sequential: { type: 'string' },
    concurrent: { type: 'string' },
    'idle-seconds': { type: 'string' },
    'timeout-seconds': { type: 'string' },
    'poll-ms': { type: 'string' },
    'database-url': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const tenants = parseIntegerOption('tenants', values.tenants, DEFAULT_TENANTS, 1, MAX_TENANTS_PER_PHASE);
  const sequential = parseIntegerOption('sequential', values.sequential, tenants, 0, MAX_TENANTS_PER_PHASE);
  const concurrent = parseIntegerOption('concurrent', values.concurrent, tenants, 0, MAX_TENANTS_PER_PHASE);
  if (sequential + concurrent === 0) throw new UsageError('nothing to do: --sequential and --concurrent are both 0');
  const databaseUrl = databaseUrlOption(values['database-url']);
  return {
    sequential,
    concurrent,
    idleSeconds: parseIntegerOption('idle-seconds', values['idle-seconds'], 3, 0, 600),
    timeoutSeconds: parseIntegerOption('timeout-seconds', values['timeout-seconds'], 120, 1, 3600),
    pollMs: parseIntegerOption('poll-ms', values['poll-ms'], 50, 5, 5000),
    databaseUrl,
    redisUrl: redisUrlFromEnvironment(),
  };
}

// ---------------------------------------------------------------------------------------------
// Provisioning

interface TenantResult {
  readonly tenantId: string;
  readonly phase: Phase;
  readonly ok: boolean;
  /** From the POST to the page answering 200 (or to the failure). */
  readonly ms: number;
  /** From the POST to the operation read as SUCCEEDED. */
  readonly operationMs?: number;
  readonly states: readonly StateTiming[];
  readonly error?: string;
}

type Phase = 'sequential' | 'concurrent';

interface ProvisionContext {
  readonly cp: LocalControlPlane;
  readonly options: BenchOptions;
  readonly stopping: () => boolean;
}

/** Provisions one tenant and times it; never throws (a failure is a result). */
async function provisionOne(ctx: ProvisionContext, tenantId: string, phase: Phase): Promise<TenantResult> {
  const { cp, options } = ctx;
  const displayName = `Bench ${tenantId}`;
  const started = now();
  const deadline = started + options.timeoutSeconds * 1000;
  const elapsed = () => now() - started;
  const fail = (step: string, error: string, states: readonly StateTiming[] = []): TenantResult => ({
    tenantId,
    phase,
    ok: false,
    ms: elapsed(),
    states,
    error: `${step}: ${error}`,
  });

  let operationId: string;
  try {
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId, tier: 'pooled', displayName });
    if (created.status !== 202 || typeof created.body.operationId !== 'string') {
      return fail('POST /tenants', `HTTP ${created.status} ${JSON.stringify(created.body)}`);
    }
    operationId = created.body.operationId;
  } catch (error) {
    return fail('POST /tenants', errorText(error));
  }

  const polled = await pollOperation(cp.apiUrl, operationId, { pollMs: options.pollMs, deadline, stopping: ctx.stopping });
  if (polled.outcome === 'interrupted') return fail('interrupted', 'the benchmark was stopped');
  if (polled.outcome === 'timed out') {
    const last = polled.lastError ? ` (last poll: ${polled.lastError})` : '';
    return fail(`GET /operations/${operationId}`, `still RUNNING after ${options.timeoutSeconds} s${last}`);
  }
  const { operation } = polled;
  const states = stateTimings(operation);
  if (operation.status !== 'SUCCEEDED') return fail(`operation ${operationId}`, describeFailure(operation), states);
  const operationMs = elapsed();

  const host = `${tenantId}.localhost:${cp.edgePort}`;
  let lastPage: string;
  while (!ctx.stopping()) {
    try {
      const page = await frontDoorGet(cp.edgePort, host, '/');
      if (page.status === 200) {
        if (!page.body.includes(displayName)) return fail('front door', `200 but the page does not name "${displayName}"`, states);
        return { tenantId, phase, ok: true, ms: elapsed(), operationMs, states };
      }
      lastPage = `HTTP ${page.status} ${page.body.slice(0, 200)}`;
    } catch (error) {
      lastPage = errorText(error);
    }
    if (now() > deadline) {
      return fail('front door', `no 200 after ${options.timeoutSeconds} s (last: ${lastPage})`, states);
    }
    await sleep(20);
  }
  return fail('interrupted', 'the benchmark was stopped', states);
}

function progressLine(result: TenantResult, done: number, total: number): string {
  const width = String(total).length;
  const head = `  [${result.phase} ${String(done).padStart(width)}/${total}] ${result.tenantId.padEnd(8)}`;
  if (!result.ok) return `${head} FAILED after ${fmt(result.ms)} ms — ${result.error}`;
  return `${head} ${fmt(result.ms).padStart(6)} ms  (operation ${fmt(result.operationMs)} ms, page +${fmt(result.ms - (result.operationMs ?? 0))} ms)`;
}

interface PhaseSummary {
  readonly phase: Phase;
  readonly tenants: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly maxMs: number | null;
  readonly meanMs: number | null;
  readonly wallMs: number | null;
  readonly tenantsPerSecond: number | null;
}

function summarisePhase(phase: Phase, results: readonly TenantResult[], wallMs: number): PhaseSummary {
  const times = results.filter((r) => r.ok).map((r) => r.ms);
  return {
    phase,
    tenants: results.length,
    succeeded: times.length,
    failed: results.length - times.length,
    p50Ms: round(percentile(times, 50)),
    p95Ms: round(percentile(times, 95)),
    maxMs: round(max(times)),
    meanMs: round(mean(times)),
    wallMs: round(wallMs),
    tenantsPerSecond: round(times.length / (wallMs / 1000), 2),
  };
}

async function runSequential(ctx: ProvisionContext, count: number): Promise<{ results: TenantResult[]; wallMs: number }> {
  const results: TenantResult[] = [];
  const started = now();
  for (let i = 1; i <= count && !ctx.stopping(); i++) {
    const result = await provisionOne(ctx, `seq-${String(i).padStart(3, '0')}`, 'sequential');
    results.push(result);
    console.log(progressLine(result, results.length, count));
  }
  return { results, wallMs: now() - started };
}

async function runConcurrent(ctx: ProvisionContext, count: number): Promise<{ results: TenantResult[]; wallMs: number }> {
  const results: TenantResult[] = [];
  const started = now();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const result = await provisionOne(ctx, `con-${String(i + 1).padStart(3, '0')}`, 'concurrent');
      results.push(result);
      console.log(progressLine(result, results.length, count));
    }),
  );
  results.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
  return { results, wallMs: now() - started };
}

// ---------------------------------------------------------------------------------------------
// Memory, from /proc

interface MemorySummary {
  readonly tenantsMeasured: number;
  readonly processesPerTenant: number | null;
  readonly tenantRssMiB: { readonly mean: number | null; readonly median: number | null; readonly max: number | null; readonly total: number | null };
  readonly tenantPssMiB: { readonly mean: number | null; readonly median: number | null; readonly max: number | null; readonly total: number | null } | null;
  readonly controlPlaneRssMiB: number | null;
  readonly postgres: { readonly processes: number; readonly rssMiB: number | null; readonly pssMiB: number | null } | null;
  readonly missing: readonly string[];
}

async function measureMemory(cp: LocalControlPlane, stateDir: string, tenantIds: readonly string[]): Promise<MemorySummary> {
  const children = await childrenByPid();
  const rss: number[] = [];
  const pss: number[] = [];
  const processCounts: number[] = [];
  const missing: string[] = [];
  let pssComplete = true;
  for (const tenantId of tenantIds) {
    const serviceName = `hp-${cp.environment}-${CELL}-${tenantId}`;
    const service = await cp.compute.describeService(serviceName);
    if (!service?.pid || !service.running) {
      missing.push(`${tenantId}: ${service ? 'not running' : 'no such service'}`);
      continue;
    }
    const memory = await treeMemory(processTree(service.pid, children));
    if (memory.processes === 0) {
      missing.push(`${tenantId}: pid ${service.pid} has no /proc entry`);
      continue;
    }
    rss.push(kibToMib(memory.rssKib));
    processCounts.push(memory.processes);
    if (memory.pssKib === undefined) pssComplete = false;
    else pss.push(kibToMib(memory.pssKib));
  }

  let postgres: MemorySummary['postgres'] = null;
  if (cp.database.embedded) {
    // Only the postmaster's command line names the data folder; its backends are its children.
    const postmaster = await readFile(join(stateDir, 'postgres', 'postmaster.pid'), 'utf8')
      .then((text) => Number(text.split('\n')[0]))
      .catch(() => Number.NaN);
    if (Number.isInteger(postmaster) && postmaster > 0) {
      const cmdline = await readFile(`/proc/${postmaster}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(stateDir)) {
        const memory = await treeMemory(processTree(postmaster, children));
        postgres = {
          processes: memory.processes,
          rssMiB: round(kibToMib(memory.rssKib)),
          pssMiB: memory.pssKib === undefined ? null : round(kibToMib(memory.pssKib)),
        };
      }
    }
  }

  const stats = (values: readonly number[]) => ({
    mean: round(mean(values)),
    median: round(median(values)),
    max: round(max(values)),
    total: round(values.reduce((sum, v) => sum + v, 0)),
  });
  return {
    tenantsMeasured: rss.length,
    processesPerTenant: round(mean(processCounts), 2),
    tenantRssMiB: stats(rss),
    tenantPssMiB: pssComplete && pss.length ? stats(pss) : null,
    controlPlaneRssMiB: round(process.memoryUsage().rss / 1024 / 1024),
    postgres,
    missing,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

function perStateTable(phases: readonly { phase: Phase; results: readonly TenantResult[] }[]): {
  text: string;
  json: Record<string, Record<string, number | null>>;
} {
  const okTimings = (results: readonly TenantResult[]) => results.filter((r) => r.ok).map((r) => r.states);
  const order = [...timesByState(phases.flatMap(({ results }) => okTimings(results))).keys()];
  const byPhase = new Map(phases.map(({ phase, results }) => [phase, timesByState(okTimings(results))]));
  const json: Record<string, Record<string, number | null>> = {};
  const rows = order.map((state) => {
    json[state] = {};
    const cells = [state];
    for (const { phase } of phases) {
      const values = byPhase.get(phase)?.get(state) ?? [];
      json[state]![`${phase}MeanMs`] = round(mean(values));
      json[state]![`${phase}P95Ms`] = round(percentile(values, 95));
      cells.push(fmt(mean(values)), fmt(percentile(values, 95)));
    }
    return cells;
  });
  const header = ['state (server-side, ms)', ...phases.flatMap(({ phase }) => [`${phase} mean`, `${phase} p95`])];
  return { text: table(header, rows), json };
}

function report(
  environment: string,
  options: BenchOptions,
  cp: LocalControlPlane,
  phases: readonly { phase: Phase; results: readonly TenantResult[]; summary: PhaseSummary }[],
  memory: MemorySummary | undefined,
  totalMs: number,
): void {
  console.log('\n=== Provision time (POST /tenants → operation SUCCEEDED → page 200 through the front door) ===');
  console.log(
    table(
      ['phase', 'tenants', 'ok', 'failed', 'p50 ms', 'p95 ms', 'max ms', 'mean ms', 'wall s', 'tenants/s'],
      phases.map(({ summary: s }) => [
        s.phase,
        String(s.tenants),
        String(s.succeeded),
        String(s.failed),
        fmt(s.p50Ms),
        fmt(s.p95Ms),
        fmt(s.maxMs),
        fmt(s.meanMs),
        fmt(s.wallMs === null ? null : s.wallMs / 1000, 1),
        fmt(s.tenantsPerSecond, 2),
      ]),
    ),
  );
  const seq = phases.find((p) => p.phase === 'sequential')?.summary;
  const con = phases.find((p) => p.phase === 'concurrent')?.summary;
  let ratios: Record<string, number | null> | null = null;
  if (seq?.p50Ms && con?.p50Ms && seq.wallMs && con.wallMs && seq.tenantsPerSecond && con.tenantsPerSecond) {
    ratios = {
      concurrentP50OverSequentialP50: round(con.p50Ms / seq.p50Ms, 2),
      concurrentThroughputOverSequential: round(con.tenantsPerSecond / seq.tenantsPerSecond, 2),
    };
    console.log(
      `concurrent vs sequential: p50 ×${fmt(ratios.concurrentP50OverSequentialP50, 2)}, throughput ×${fmt(ratios.concurrentThroughputOverSequential, 2)}`,
    );
  }

  const states = perStateTable(phases);
  console.log('\n=== Where the time goes (each state\'s startedAt → endedAt as the registry records it) ===');
  console.log(states.text);

  if (memory) {
    console.log(`\n=== Resident memory, after ${options.idleSeconds} s idle ===`);
    const rows: string[][] = [
      [
        `tenant process RSS (${memory.tenantsMeasured} tenants)`,
        fmt(memory.tenantRssMiB.mean, 1),
        fmt(memory.tenantRssMiB.median, 1),
        fmt(memory.tenantRssMiB.max, 1),
        fmt(memory.tenantRssMiB.total, 1),
      ],
    ];
    if (memory.tenantPssMiB) {
      rows.push([
        'tenant process PSS',
        fmt(memory.tenantPssMiB.mean, 1),
        fmt(memory.tenantPssMiB.median, 1),
        fmt(memory.tenantPssMiB.max, 1),
        fmt(memory.tenantPssMiB.total, 1),
      ]);
    }
    rows.push(['control plane RSS (this process)', '', '', '', fmt(memory.controlPlaneRssMiB, 1)]);
    if (memory.postgres) {
      rows.push([`embedded PostgreSQL RSS (${memory.postgres.processes} processes)`, '', '', '', fmt(memory.postgres.rssMiB, 1)]);
      rows.push(['embedded PostgreSQL PSS', '', '', '', fmt(memory.postgres.pssMiB, 1)]);
    }
    console.log(table(['MiB', 'mean', 'median', 'max', 'total'], rows));
    if (memory.processesPerTenant !== null && memory.processesPerTenant !== 1) {
      console.log(`(processes per tenant: ${memory.processesPerTenant}; a tenant's figure is its whole process tree)`);
    }
    if (memory.missing.length) console.log(`not measured: ${memory.missing.join('; ')}`);
  }

  const failures = phases.flatMap((p) => p.results.filter((r) => !r.ok));
  if (failures.length) {
    console.log(`\n=== ${failures.length} failure(s) ===`);
    for (const f of failures) console.log(`  ${f.phase} ${f.tenantId} after ${fmt(f.ms)} ms: ${f.error}`);
  }
  console.log(`\nTotal run time ${fmt(totalMs / 1000, 1)} s (start, both phases, idle wait; cleanup not included).`);

  printBenchJson('provision', environment, {
    database: cp.database.embedded ? 'embedded' : 'external',
    redis: cp.cache.available,
    options: { sequential: options.sequential, concurrent: options.concurrent, idleSeconds: options.idleSeconds, pollMs: options.pollMs, timeoutSeconds: options.timeoutSeconds },
    provision: Object.fromEntries(phases.map(({ phase, summary }) => [phase, summary])),
    ratios,
    states: states.json,
    memory,
    failures: failures.map((f) => ({ phase: f.phase, tenantId: f.tenantId, ms: round(f.ms), error: f.error })),
    totalMs: round(totalMs),
  });
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const commandLine = readCommandLine(() => parseOptions(process.argv.slice(2)), USAGE, (message) => `${message}\n\n${USAGE}`);
  if ('exitCode' in commandLine) return commandLine.exitCode;
  const { options } = commandLine;

  const environment = uniqueEnvironment();
  const cleanup = new Cleanup();
  let stateDir: string | undefined;
  const stopping = handleStopSignals({
    cleanup,
    leftovers: () => `${stateDir ?? 'the temp folder'} and hp_${environment}_* databases`,
    sameSignalWithinMs: 0,
  });

  const benchStarted = now();
  return runThenCleanUp(cleanup, stopping, async () => {
    stateDir = await tempFolder(cleanup, `bench-${environment}`);
    console.log(`Hostplane provision benchmark: environment ${environment}, ${options.sequential} sequential + ${options.concurrent} concurrent tenant(s)`);
    console.log(`  state folder ${stateDir}`);
    console.log(`  database: ${options.databaseUrl ? 'external PostgreSQL' : 'embedded PostgreSQL'}; Redis: ${redisLabel(options.redisUrl)}`);

    const startAt = now();
    const cp = await startBenchControlPlane(cleanup, {
      stateDir,
      environment,
      maxTenants: options.sequential + options.concurrent,
      databaseUrl: options.databaseUrl,
      dropDatabases: true,
      redisUrl: options.redisUrl,
    });
    if (stopping()) return 130;
    console.log(
      `  control plane up in ${fmt(now() - startAt)} ms: API ${cp.apiUrl}, front door ${cp.edgeUrl}, database ${cp.database.url}, cache ${cp.cache.available ? 'Redis' : `unavailable (${cp.cache.reason})`}`,
    );

    const ctx: ProvisionContext = { cp, options, stopping };
    const phases: { phase: Phase; results: TenantResult[]; summary: PhaseSummary }[] = [];
    if (options.sequential > 0) {
      console.log(`\nSequential: ${options.sequential} tenant(s), one after another`);
      const { results, wallMs } = await runSequential(ctx, options.sequential);
      phases.push({ phase: 'sequential', results, summary: summarisePhase('sequential', results, wallMs) });
    }
    if (options.concurrent > 0 && !stopping()) {
      console.log(`\nConcurrent: ${options.concurrent} tenant(s), all POSTed at once`);
      const { results, wallMs } = await runConcurrent(ctx, options.concurrent);
      phases.push({ phase: 'concurrent', results, summary: summarisePhase('concurrent', results, wallMs) });
    }
    if (stopping()) return 130;

    const upTenants = phases.flatMap((p) => p.results.filter((r) => r.ok).map((r) => r.tenantId));
    let memory: MemorySummary | undefined;
    if (upTenants.length) {
      console.log(`\nLetting ${upTenants.length} tenant(s) sit idle for ${options.idleSeconds} s, then reading /proc…`);
      await sleep(options.idleSeconds * 1000);
      if (stopping()) return 130;
      memory = await measureMemory(cp, stateDir, upTenants);
    }
    report(environment, options, cp, phases, memory, now() - benchStarted);
    return phases.some((p) => p.summary.failed > 0) ? 1 : 0;
  });
}

runMain(main);
