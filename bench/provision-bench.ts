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
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startLocalControlPlane, type LocalControlPlane } from '../local/control-plane.js';

// ---------------------------------------------------------------------------------------------
// Options

const DEFAULT_TENANTS = 20;
const MAX_TENANTS_PER_PHASE = 100;
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const CELL = 'local';

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

class UsageError extends Error {}

function parseIntegerOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        tenants: { type: 'string' },
        sequential: { type: 'string' },
        concurrent: { type: 'string' },
        'idle-seconds': { type: 'string' },
        'timeout-seconds': { type: 'string' },
        'poll-ms': { type: 'string' },
        'database-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const tenants = parseIntegerOption('tenants', values.tenants, DEFAULT_TENANTS, 1, MAX_TENANTS_PER_PHASE);
  const sequential = parseIntegerOption('sequential', values.sequential, tenants, 0, MAX_TENANTS_PER_PHASE);
  const concurrent = parseIntegerOption('concurrent', values.concurrent, tenants, 0, MAX_TENANTS_PER_PHASE);
  if (sequential + concurrent === 0) throw new UsageError('nothing to do: --sequential and --concurrent are both 0');
  const databaseUrl = values['database-url'] ?? (process.env.DATABASE_URL || undefined);
  if (databaseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(databaseUrl);
    } catch {
      throw new UsageError('--database-url / DATABASE_URL is not a URL');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new UsageError('--database-url / DATABASE_URL must be a postgres:// URL');
    }
  }
  return {
    sequential,
    concurrent,
    idleSeconds: parseIntegerOption('idle-seconds', values['idle-seconds'], 3, 0, 600),
    timeoutSeconds: parseIntegerOption('timeout-seconds', values['timeout-seconds'], 120, 1, 3600),
    pollMs: parseIntegerOption('poll-ms', values['poll-ms'], 50, 5, 5000),
    databaseUrl,
    redisUrl: process.env.REDIS_URL || undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** Nearest-rank percentile: the smallest observation with at least p% of them at or below it. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** The middle value; the mean of the two middle values for an even count. */
function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const max = (values: readonly number[]): number => (values.length === 0 ? Number.NaN : Math.max(...values));

const round = (value: number, digits = 1): number | null =>
  Number.isFinite(value) ? Math.round(value * 10 ** digits) / 10 ** digits : null;

const kibToMib = (kib: number): number => kib / 1024;

function fmt(value: number | null | undefined, digits = 0, unit = ''): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(digits)}${unit}`;
}

/** A plain-text table, first column left-aligned, the rest right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function uniqueEnvironment(): string {
  // `bench` + 6 base-36 characters: 11 characters, within the 12 an environment may have.
  const suffix = Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, '0');
  return `bench${suffix}`;
}

// ---------------------------------------------------------------------------------------------
// Talking to the control plane

interface ApiResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function api(baseUrl: string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  if (text) {
    try {
      const value: unknown = JSON.parse(text);
      parsed = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : { value };
    } catch {
      parsed = { raw: text.slice(0, 500) };
    }
  }
  return { status: response.status, body: parsed };
}

/** GET `/` through the front door as `<host>`, as a browser on `<tenant>.localhost` would. */
function getThroughFrontDoor(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('front door request timed out')));
    req.on('error', reject);
    req.end();
  });
}

interface StateTiming {
  readonly state: string;
  readonly ms: number;
}

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

function stateTimings(operation: Record<string, unknown>): StateTiming[] {
  const states = Array.isArray(operation.states) ? (operation.states as unknown[]) : [];
  const timings: StateTiming[] = [];
  for (const entry of states) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { state, startedAt, endedAt } = entry as Record<string, unknown>;
    if (typeof state !== 'string' || typeof startedAt !== 'string' || typeof endedAt !== 'string') continue;
    const ms = Date.parse(endedAt) - Date.parse(startedAt);
    if (Number.isFinite(ms)) timings.push({ state, ms });
  }
  return timings;
}

/** What went wrong in a failed operation: its error and the failed states' errors. */
function describeFailure(operation: Record<string, unknown>): string {
  const parts = [`operation ${String(operation.status)}`];
  if (operation.error) parts.push(`error: ${JSON.stringify(operation.error)}`);
  const states = Array.isArray(operation.states) ? (operation.states as unknown[]) : [];
  for (const entry of states) {
    if (typeof entry !== 'object' || entry === null) continue;
    const step = entry as Record<string, unknown>;
    if (step.status !== 'SUCCEEDED') parts.push(`state ${String(step.state)} ${String(step.status)}: ${JSON.stringify(step.error)}`);
  }
  return parts.join('; ');
}

interface ProvisionContext {
  readonly cp: LocalControlPlane;
  readonly options: BenchOptions;
  readonly stopping: () => boolean;
}

/** Provisions one tenant and times it; never throws (a failure is a result). */
async function provisionOne(ctx: ProvisionContext, tenantId: string, phase: Phase): Promise<TenantResult> {
  const { cp, options } = ctx;
  const displayName = `Bench ${tenantId}`;
  const started = performance.now();
  const deadline = started + options.timeoutSeconds * 1000;
  const elapsed = () => performance.now() - started;
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

  let operation: Record<string, unknown> | undefined;
  let lastPollError = '';
  while (!ctx.stopping()) {
    try {
      const polled = await api(cp.apiUrl, 'GET', `/operations/${operationId}`);
      if (polled.status === 200 && polled.body.status !== 'RUNNING') {
        operation = polled.body;
        break;
      }
      if (polled.status !== 200) lastPollError = `HTTP ${polled.status} ${JSON.stringify(polled.body)}`;
    } catch (error) {
      lastPollError = errorText(error);
    }
    if (performance.now() > deadline) {
      return fail(`GET /operations/${operationId}`, `still RUNNING after ${options.timeoutSeconds} s${lastPollError ? ` (last poll: ${lastPollError})` : ''}`);
    }
    await sleep(options.pollMs);
  }
  if (!operation) return fail('interrupted', 'the benchmark was stopped');
  const states = stateTimings(operation);
  if (operation.status !== 'SUCCEEDED') return fail(`operation ${operationId}`, describeFailure(operation), states);
  const operationMs = elapsed();

  const host = `${tenantId}.localhost:${cp.edgePort}`;
  let lastPage: string;
  while (!ctx.stopping()) {
    try {
      const page = await getThroughFrontDoor(cp.edgePort, host);
      if (page.status === 200) {
        if (!page.body.includes(displayName)) return fail('front door', `200 but the page does not name "${displayName}"`, states);
        return { tenantId, phase, ok: true, ms: elapsed(), operationMs, states };
      }
      lastPage = `HTTP ${page.status} ${page.body.slice(0, 200)}`;
    } catch (error) {
      lastPage = errorText(error);
    }
    if (performance.now() > deadline) {
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
  const started = performance.now();
  for (let i = 1; i <= count && !ctx.stopping(); i++) {
    const result = await provisionOne(ctx, `seq-${String(i).padStart(3, '0')}`, 'sequential');
    results.push(result);
    console.log(progressLine(result, results.length, count));
  }
  return { results, wallMs: performance.now() - started };
}

async function runConcurrent(ctx: ProvisionContext, count: number): Promise<{ results: TenantResult[]; wallMs: number }> {
  const results: TenantResult[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const result = await provisionOne(ctx, `con-${String(i + 1).padStart(3, '0')}`, 'concurrent');
      results.push(result);
      console.log(progressLine(result, results.length, count));
    }),
  );
  results.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
  return { results, wallMs: performance.now() - started };
}

// ---------------------------------------------------------------------------------------------
// Memory, from /proc

async function procStatusKib(pid: number, field: string): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Proportional set size: shared pages split among the processes sharing them. */
async function pssKib(pid: number): Promise<number | undefined> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB$/m.exec(rollup);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Every process's children, read once from /proc. */
async function childrenByPid(): Promise<Map<number, number[]>> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = await readFile(`/proc/${entry}/status`, 'utf8');
      const match = /^PPid:\s+(\d+)$/m.exec(status);
      if (!match) continue;
      const parent = Number(match[1]);
      const list = children.get(parent) ?? [];
      list.push(Number(entry));
      children.set(parent, list);
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

function processTree(root: number, children: ReadonlyMap<number, readonly number[]>): number[] {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

interface TreeMemory {
  readonly processes: number;
  readonly rssKib: number;
  readonly pssKib: number | undefined;
}

async function treeMemory(pids: readonly number[]): Promise<TreeMemory> {
  let rss = 0;
  let pss: number | undefined = 0;
  let processes = 0;
  for (const pid of pids) {
    const r = await procStatusKib(pid, 'VmRSS');
    if (r === undefined) continue;
    processes++;
    rss += r;
    const p = await pssKib(pid);
    pss = p === undefined || pss === undefined ? undefined : pss + p;
  }
  return { processes, rssKib: rss, pssKib: pss };
}

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
// Cleanup

async function dropEnvironmentDatabases(adminUrl: string, environment: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // `_` is a LIKE wildcard: escape it so only this environment's names match.
    const pattern = `hp\\_${environment}\\_%`;
    const dbs = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [pattern]);
    for (const { datname } of dbs.rows) await client.query(`DROP DATABASE IF EXISTS "${datname.replaceAll('"', '""')}" WITH (FORCE)`);
    const roles = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [pattern]);
    for (const { rolname } of roles.rows) await client.query(`DROP ROLE IF EXISTS "${rolname.replaceAll('"', '""')}"`);
    return `dropped ${dbs.rowCount ?? 0} database(s) and ${roles.rowCount ?? 0} role(s)`;
  } finally {
    await client.end();
  }
}

async function deleteCacheUsers(redisUrl: string, environment: string): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch {
    return 'Redis not reachable, no cache users to delete';
  }
  try {
    const users: unknown = await redis.acl('USERS');
    const prefix = `hp-${environment}-`;
    const ours = Array.isArray(users) ? users.filter((u): u is string => typeof u === 'string' && u.startsWith(prefix)) : [];
    for (const user of ours) await redis.acl('DELUSER', user);
    return `deleted ${ours.length} cache user(s)`;
  } finally {
    redis.disconnect();
  }
}

interface Run {
  readonly environment: string;
  stateDir?: string;
  starting?: Promise<LocalControlPlane>;
  options?: BenchOptions;
}

let cleaning: Promise<void> | undefined;

/** Removes everything the run made; safe to call more than once and from a signal handler. */
function cleanup(run: Run): Promise<void> {
  cleaning ??= (async () => {
    const step = async (what: string, work: () => Promise<string | void>) => {
      try {
        const note = await work();
        console.log(`  cleanup: ${what}${note ? ` — ${note}` : ''}`);
      } catch (error) {
        console.error(`  cleanup: ${what} FAILED — ${errorText(error)}`);
      }
    };
    console.log('Cleaning up…');
    const cp = await run.starting?.catch(() => undefined);
    if (cp) {
      const what = `stopped the control plane and its tenant processes${cp.database.embedded ? ' and the embedded PostgreSQL' : ''}`;
      await step(what, () => cp.close());
    }
    if (run.options?.databaseUrl) {
      const url = run.options.databaseUrl;
      await step(`databases and roles hp_${run.environment}_*`, () => dropEnvironmentDatabases(url, run.environment));
    }
    if (run.options) {
      const redisUrl = run.options.redisUrl ?? DEFAULT_REDIS_URL;
      await step(`Redis ACL users hp-${run.environment}-*`, () => deleteCacheUsers(redisUrl, run.environment));
    }
    if (run.stateDir) {
      const dir = run.stateDir;
      await step(`removed ${dir}`, () => rm(dir, { recursive: true, force: true }));
    }
  })();
  return cleaning;
}

// ---------------------------------------------------------------------------------------------
// Report

function perStateTable(phases: readonly { phase: Phase; results: readonly TenantResult[] }[]): {
  text: string;
  json: Record<string, Record<string, number | null>>;
} {
  const order: string[] = [];
  const byPhase = new Map<Phase, Map<string, number[]>>();
  for (const { phase, results } of phases) {
    const map = new Map<string, number[]>();
    byPhase.set(phase, map);
    for (const result of results.filter((r) => r.ok)) {
      for (const { state, ms } of result.states) {
        if (!order.includes(state)) order.push(state);
        const list = map.get(state) ?? [];
        list.push(ms);
        map.set(state, list);
      }
    }
  }
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

  const json = {
    bench: 'provision',
    at: new Date().toISOString(),
    environment,
    machine: { node: process.version, platform: `${platform()} ${release()} ${arch()}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryMiB: Math.round(totalmem() / 1024 / 1024) },
    database: cp.database.embedded ? 'embedded' : 'external',
    redis: cp.cache.available,
    options: { sequential: options.sequential, concurrent: options.concurrent, idleSeconds: options.idleSeconds, pollMs: options.pollMs, timeoutSeconds: options.timeoutSeconds },
    provision: Object.fromEntries(phases.map(({ phase, summary }) => [phase, summary])),
    ratios,
    states: states.json,
    memory,
    failures: failures.map((f) => ({ phase: f.phase, tenantId: f.tenantId, ms: round(f.ms), error: f.error })),
    totalMs: round(totalMs),
  };
  console.log(`BENCH_JSON ${JSON.stringify(json)}`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    const parsed = parseOptions(process.argv.slice(2));
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }

  const run: Run = { environment: uniqueEnvironment(), options };
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.error(`${signal} again: exiting without finishing cleanup (check ${run.stateDir ?? 'the temp folder'} and hp_${run.environment}_* databases)`);
      process.exit(130);
    }
    stopping = true;
    console.error(`\n${signal}: stopping the benchmark`);
    void cleanup(run).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Ctrl-C in a terminal also reaches the embedded PostgreSQL and the tenant processes (same
  // process group), so connections break while we clean up: expected then, and not fatal.
  // Any other uncaught error still ends the run, after cleanup.
  const onUncaught = (error: unknown) => {
    if (stopping) {
      console.error(`  (while stopping: ${errorText(error)})`);
      return;
    }
    stopping = true;
    console.error(`\nUncaught error, stopping the benchmark: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    void cleanup(run).finally(() => process.exit(1));
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);

  const benchStarted = performance.now();
  try {
    run.stateDir = await mkdtemp(join(tmpdir(), `hostplane-bench-${run.environment}-`));
    // As root the embedded PostgreSQL runs as the `postgres` user, which must be able to reach its folder.
    await chmod(run.stateDir, 0o755);
    console.log(
      `Hostplane provision benchmark: environment ${run.environment}, ${options.sequential} sequential + ${options.concurrent} concurrent tenant(s)`,
    );
    console.log(`  state folder ${run.stateDir}`);
    console.log(`  database: ${options.databaseUrl ? 'external PostgreSQL' : 'embedded PostgreSQL'}; Redis: ${options.redisUrl ?? `${DEFAULT_REDIS_URL} (default)`}`);

    const startAt = performance.now();
    run.starting = startLocalControlPlane({
      stateDir: run.stateDir,
      environment: run.environment,
      cell: CELL,
      maxTenants: options.sequential + options.concurrent,
      apiPort: 0,
      edgePort: 0,
      databaseUrl: options.databaseUrl,
      redisUrl: options.redisUrl,
      log: (line) => console.log(`  [control plane] ${line}`),
    });
    const cp = await run.starting;
    if (stopping) return 130;
    console.log(
      `  control plane up in ${fmt(performance.now() - startAt)} ms: API ${cp.apiUrl}, front door ${cp.edgeUrl}, database ${cp.database.url}, cache ${cp.cache.available ? 'Redis' : `unavailable (${cp.cache.reason})`}`,
    );

    const ctx: ProvisionContext = { cp, options, stopping: () => stopping };
    const phases: { phase: Phase; results: TenantResult[]; summary: PhaseSummary }[] = [];
    if (options.sequential > 0) {
      console.log(`\nSequential: ${options.sequential} tenant(s), one after another`);
      const { results, wallMs } = await runSequential(ctx, options.sequential);
      phases.push({ phase: 'sequential', results, summary: summarisePhase('sequential', results, wallMs) });
    }
    if (options.concurrent > 0 && !stopping) {
      console.log(`\nConcurrent: ${options.concurrent} tenant(s), all POSTed at once`);
      const { results, wallMs } = await runConcurrent(ctx, options.concurrent);
      phases.push({ phase: 'concurrent', results, summary: summarisePhase('concurrent', results, wallMs) });
    }
    if (stopping) return 130;

    const upTenants = phases.flatMap((p) => p.results.filter((r) => r.ok).map((r) => r.tenantId));
    let memory: MemorySummary | undefined;
    if (upTenants.length) {
      console.log(`\nLetting ${upTenants.length} tenant(s) sit idle for ${options.idleSeconds} s, then reading /proc…`);
      await sleep(options.idleSeconds * 1000);
      if (stopping) return 130;
      memory = await measureMemory(cp, run.stateDir, upTenants);
    }
    report(run.environment, options, cp, phases, memory, performance.now() - benchStarted);
    return phases.some((p) => p.summary.failed > 0) ? 1 : 0;
  } catch (error) {
    if (stopping) return 130;
    console.error(`\nBenchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    if (!stopping) {
      const cleanupStarted = performance.now();
      await cleanup(run);
      console.log(`Cleanup took ${fmt((performance.now() - cleanupStarted) / 1000, 1)} s.`);
    }
  }
}

main().then(
  (code) => {
    // Lingering keep-alive sockets and timers must not keep a finished benchmark alive.
    // On a signal (code 130) the signal handler exits once its cleanup is done.
    if (code !== 130) process.exit(code);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
