/**
 * Part 2, app change → new version serving at the front door: a local control plane, one tenant,
 * and N deploys each adding a field, each timed from POST /tenants/{id}/deployments until
 * GET /version through the front door names the new release.
 */
import type { AppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import type { LocalControlPlane } from '../../local/control-plane.js';
import { tempFolder, type Cleanup } from '../support/cleanup.js';
import { api, describeFailure, frontDoorGet, pollOperation, stateTimings, timesByState, type StateTiming } from '../support/control-plane-api.js';
import { redisLabel, startBenchControlPlane } from '../support/control-plane.js';
import { errorText, fmt, table } from '../support/format.js';
import { round, stats, type Stats } from '../support/stats.js';
import { now, sleep } from '../support/time.js';
import type { BenchDatabase } from './bench-database.js';
import { withExtraFields, type BenchOptions } from './options.js';

const TENANT_ID = 'deploy-bench';
/** A request to the control plane's API gives up after this long. */
const API_TIMEOUT_MS = 30_000;

/** The API has no deploy route: the deploy pipeline is not in this tree. */
export class PipelineMissingError extends Error {}

/** The release `GET /version` names through the front door, or what came back instead. */
async function versionAtFrontDoor(port: number, host: string): Promise<{ release?: string; other?: string }> {
  try {
    const reply = await frontDoorGet(port, host, '/version');
    if (reply.status === 200) {
      try {
        const body = JSON.parse(reply.body) as { release?: unknown };
        if (typeof body.release === 'string') return { release: body.release };
      } catch {
        // not JSON: reported below
      }
    }
    return { other: `HTTP ${reply.status} ${reply.body.slice(0, 120)}` };
  } catch (error) {
    return { other: errorText(error) };
  }
}

/** Polls `GET /operations/{id}` until it is not RUNNING; throws at the deadline. */
async function awaitOperation(cp: LocalControlPlane, operationId: string, pollMs: number, deadline: number, stopping: () => boolean): Promise<Record<string, unknown>> {
  const polled = await pollOperation(cp.apiUrl, operationId, { pollMs, deadline, stopping, requestTimeoutMs: API_TIMEOUT_MS });
  if (polled.outcome === 'interrupted') throw new Error('interrupted');
  if (polled.outcome === 'timed out') throw new Error(`operation ${operationId} still RUNNING at the deadline${polled.lastError ? ` (last poll: ${polled.lastError})` : ''}`);
  return polled.operation;
}

/** Polls GET /version through the front door in the background, noting when each release was first named. */
class VersionWatcher {
  readonly firstSeen = new Map<string, number>();
  last = '';
  private running = true;
  private readonly loop: Promise<void>;

  constructor(edgePort: number, host: string, intervalMs: number, deadline: number) {
    this.loop = (async () => {
      while (this.running && now() < deadline) {
        const version = await versionAtFrontDoor(edgePort, host);
        if (version.release && !this.firstSeen.has(version.release)) this.firstSeen.set(version.release, now());
        this.last = version.release ?? version.other ?? '';
        await sleep(intervalMs);
      }
    })();
  }

  async seen(releaseId: string, deadline: number, stopping: () => boolean): Promise<number> {
    while (!this.firstSeen.has(releaseId)) {
      if (stopping()) throw new Error('interrupted');
      if (now() > deadline) throw new Error(`GET /version through the front door never named ${releaseId} (last: ${this.last})`);
      await sleep(5);
    }
    return this.firstSeen.get(releaseId)!;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

interface DeployRecord {
  readonly index: number;
  readonly ok: boolean;
  /** POST → GET /version through the front door names the new release. */
  readonly ms: number | null;
  /** POST → the operation read as SUCCEEDED. */
  readonly operationMs: number | null;
  readonly releaseId?: string;
  readonly states: readonly StateTiming[];
  readonly error?: string;
}

export interface DeployPartResult {
  readonly database: 'embedded' | 'external';
  readonly redis: boolean;
  readonly provisionMs: number | null;
  readonly initialRelease: string | null;
  readonly deploys: readonly DeployRecord[];
  readonly completed: number;
  readonly failed: number;
  readonly toNewVersionMs: Stats;
  readonly operationMs: Stats;
  readonly states: Record<string, Stats>;
  readonly stoppedEarly?: string;
}

async function deployOne(
  cp: LocalControlPlane,
  host: string,
  index: number,
  definition: AppDefinition,
  options: BenchOptions,
  stopping: () => boolean,
): Promise<DeployRecord> {
  const started = now();
  const deadline = started + options.timeoutSeconds * 1000;
  const watcher = new VersionWatcher(cp.edgePort, host, options.versionPollMs, deadline);
  const fail = (step: string, error: string, states: readonly StateTiming[] = [], operationMs: number | null = null): DeployRecord => ({
    index,
    ok: false,
    ms: null,
    operationMs,
    states,
    error: `${step}: ${error}`,
  });
  try {
    const posted = await api(cp.apiUrl, 'POST', `/tenants/${TENANT_ID}/deployments`, { definition }, API_TIMEOUT_MS);
    // The API's own answer for a route it does not have (not a handler's 404 for an unknown tenant).
    const noRoute = posted.status === 405 || (posted.status === 404 && String(posted.body.message ?? '').startsWith('no route'));
    if (noRoute) {
      throw new PipelineMissingError(
        `the deploy pipeline is not in this tree yet: POST /tenants/${TENANT_ID}/deployments answered ${posted.status} ${JSON.stringify(posted.body).slice(0, 200)}`,
      );
    }
    const { deploymentId, operationId } = posted.body;
    if (posted.status !== 202 || typeof deploymentId !== 'string' || typeof operationId !== 'string') {
      return fail('POST /deployments', `HTTP ${posted.status} ${JSON.stringify(posted.body).slice(0, 500)}`);
    }
    let operation: Record<string, unknown>;
    try {
      operation = await awaitOperation(cp, operationId, options.pollMs, deadline, stopping);
    } catch (error) {
      return fail(`GET /operations/${operationId}`, errorText(error));
    }
    const operationMs = round(now() - started);
    const states = stateTimings(operation);
    if (operation.status !== 'SUCCEEDED') return fail(`operation ${operationId}`, describeFailure(operation, { compact: true }), states, operationMs);

    const deployment = await api(cp.apiUrl, 'GET', `/tenants/${TENANT_ID}/deployments/${deploymentId}`, undefined, API_TIMEOUT_MS);
    const releaseId = deployment.body.releaseId;
    if (deployment.status !== 200 || typeof releaseId !== 'string') {
      return fail(`GET /tenants/${TENANT_ID}/deployments/${deploymentId}`, `HTTP ${deployment.status} ${JSON.stringify(deployment.body).slice(0, 300)}`, states, operationMs);
    }
    let seenAt: number;
    try {
      seenAt = await watcher.seen(releaseId, deadline, stopping);
    } catch (error) {
      return fail('front door', errorText(error), states, operationMs);
    }
    // The change is real: the new field filters (the app knows it, and its column exists).
    const entity = definition.entities[0]!.name;
    const check = await frontDoorGet(cp.edgePort, host, `/api/${entity}?f${index}=x&limit=1`).catch((error: unknown) => ({ status: 0, body: errorText(error) }));
    if (check.status !== 200) {
      return fail(`GET /api/${entity}?f${index}=x`, `HTTP ${check.status} ${check.body.slice(0, 200)}`, states, operationMs);
    }
    return { index, ok: true, ms: round(seenAt - started), operationMs, releaseId, states };
  } finally {
    await watcher.stop();
  }
}

function deployLine(d: DeployRecord, total: number): string {
  const head = `  [deploy ${String(d.index).padStart(String(total).length)}/${total}] +f${d.index}`;
  if (!d.ok) return `${head} FAILED — ${d.error}`;
  const slowest = [...d.states].sort((x, y) => y.ms - x.ms).slice(0, 3);
  return `${head} ${d.releaseId} serving after ${fmt(d.ms).padStart(6)} ms (operation ${fmt(d.operationMs)} ms; slowest ${slowest.map((s) => `${s.state} ${s.ms}`).join(', ')})`;
}

export async function runDeployPart(
  cleanup: Cleanup,
  environment: string,
  options: BenchOptions,
  db: BenchDatabase,
  base: AppDefinition,
  stopping: () => boolean,
): Promise<DeployPartResult | undefined> {
  console.log(`\n=== Part 2: app change → new version serving at the front door (${options.deploys} deploys) ===`);
  const stateDir = await tempFolder(cleanup, `deploy-bench-${environment}`);
  console.log(`  environment ${environment}, state folder ${stateDir}`);
  console.log(`  database: ${db.embedded ? "the benchmark's embedded PostgreSQL" : 'external PostgreSQL'}; Redis: ${redisLabel(options.redisUrl)}`);

  const startAt = now();
  const cp = await startBenchControlPlane(cleanup, {
    stateDir,
    environment,
    maxTenants: 1,
    databaseUrl: db.adminUrl,
    // The benchmark's embedded PostgreSQL goes as a whole at the end.
    dropDatabases: !db.embedded,
    redisUrl: options.redisUrl,
  });
  if (stopping()) return undefined;
  console.log(`  control plane up in ${fmt(now() - startAt)} ms: API ${cp.apiUrl}, front door ${cp.edgeUrl}, cache ${cp.cache.available ? 'Redis' : `unavailable (${cp.cache.reason})`}`);

  // The tenant: provisioned, and (the provision's last step) serving the starter app.
  const provisionStarted = now();
  const provisionDeadline = provisionStarted + options.timeoutSeconds * 1000;
  const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: TENANT_ID, tier: 'pooled', displayName: 'Deploy bench' }, API_TIMEOUT_MS);
  if (created.status !== 202 || typeof created.body.operationId !== 'string') {
    throw new Error(`POST /tenants answered HTTP ${created.status} ${JSON.stringify(created.body).slice(0, 300)}`);
  }
  const provision = await awaitOperation(cp, created.body.operationId, options.pollMs, provisionDeadline, stopping);
  if (provision.status !== 'SUCCEEDED') throw new Error(`provisioning ${TENANT_ID} failed: ${describeFailure(provision, { compact: true })}`);
  const host = `${TENANT_ID}.localhost:${cp.edgePort}`;
  // A provision that does not deploy an app (yet) leaves a tenant that never answers /version: 10 s at most.
  const servingDeadline = Math.min(provisionDeadline, now() + 10_000);
  let initial: { release?: string; other?: string } = {};
  while (!stopping()) {
    initial = await versionAtFrontDoor(cp.edgePort, host);
    if (initial.release || now() > servingDeadline) break;
    await sleep(options.versionPollMs);
  }
  const provisionMs = round(now() - provisionStarted);
  console.log(
    `  tenant ${TENANT_ID} provisioned and serving in ${fmt(provisionMs)} ms; GET /version through the front door: ${initial.release ? `release ${initial.release}` : `no release (${initial.other ?? 'no answer'})`}`,
  );

  const deploys: DeployRecord[] = [];
  let stoppedEarly: string | undefined;
  let failedInARow = 0;
  for (let i = 1; i <= options.deploys && !stopping(); i++) {
    const record = await deployOne(cp, host, i, withExtraFields(base, i), options, stopping);
    if (stopping()) return undefined;
    deploys.push(record);
    console.log(deployLine(record, options.deploys));
    failedInARow = record.ok ? 0 : failedInARow + 1;
    if (failedInARow === 3) {
      stoppedEarly = 'three deploys in a row failed';
      console.log(`  stopping the deploy part: ${stoppedEarly}`);
      break;
    }
  }

  const done = deploys.filter((d) => d.ok);
  return {
    database: db.embedded ? 'embedded' : 'external',
    redis: cp.cache.available,
    provisionMs,
    initialRelease: initial.release ?? null,
    deploys,
    completed: done.length,
    failed: deploys.length - done.length,
    toNewVersionMs: stats(done.map((d) => d.ms!)),
    operationMs: stats(done.map((d) => d.operationMs!)),
    states: Object.fromEntries([...timesByState(done.map((d) => d.states))].map(([state, times]) => [state, stats(times)])),
    ...(stoppedEarly ? { stoppedEarly } : {}),
  };
}

export function reportDeploy(result: DeployPartResult): void {
  console.log('\n=== App change → new version at the front door (POST /deployments → GET /version names the new release) ===');
  const row = (name: string, s: Stats) => [name, String(s.n), fmt(s.p50), fmt(s.p95), fmt(s.max), fmt(s.mean)];
  console.log(
    table(['ms', 'deploys', 'p50', 'p95', 'max', 'mean'], [row('to new version at the front door', result.toNewVersionMs), row('to operation SUCCEEDED seen', result.operationMs)]),
  );
  console.log(`ok ${result.completed}, failed ${result.failed}${result.stoppedEarly ? ` (stopped early: ${result.stoppedEarly})` : ''}`);
  console.log("\n=== Where the time goes (each state's startedAt → endedAt as the registry records it) ===");
  console.log(table(['state (server-side, ms)', 'mean', 'p95', 'max'], Object.entries(result.states).map(([state, s]) => [state, fmt(s.mean), fmt(s.p95), fmt(s.max)])));
}
