/**
 * Local compute: one supervised reloader process per service (the tenant container's entrypoint,
 * runtime/reloader/main.ts), holding the tenant's loopback port and running the release its app
 * folder's `current` names, with the tenant's secrets in its environment.
 *
 * Layout under `stateDir`:
 *   build/tenant-reloader.mjs    the reloader, bundled once per instance
 *   logs/<serviceName>.log       the process's stdout and stderr (and its apps'), appended, plus supervisor notes
 *   compute/<serviceName>.json   the service record: pid, port, runtime health port, start time
 *
 * A process that exits without being asked to stop is restarted on the same port, with backoff.
 * Children never outlive this process: they are killed on its 'exit', and each one also drains
 * and exits by itself when its IPC channel to us closes (which covers a SIGKILL of this process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { z } from 'zod';
import { PermanentError, TransientError, ValidationError, errorMessage } from '../../lambdas/domain/errors.js';
import type { ComputePort, ComputeService, ComputeSpec } from '../../lambdas/ports/compute.js';
import type { SecretsPort } from '../../lambdas/ports/secrets.js';
import { freeLoopbackPort, isProcessAlive } from '../process-helpers.js';
import { RuntimeExitCode } from '../../runtime/exit-codes.js';

export interface ProcessComputeOptions {
  /** Folder for the runtime build, logs and service records. */
  readonly stateDir: string;
  /** Root of the tenants' app files; a spec's `appFilesFolder` is relative to it. */
  readonly appFilesRoot: string;
  /** Where the secrets a spec's `secretEnvironment` names are read (required when a spec names any). */
  readonly secrets?: SecretsPort;
  /** The runtime's source. @default `runtime/reloader/main.ts` of this repository */
  readonly runtimeEntry?: string;
  /** The reloader's settings for every tenant (see runtime/reloader/README.md). */
  readonly reloader?: {
    /** How often it reads `current`. @default 1000 */
    readonly pollIntervalMs?: number;
    /** How long a new release has to become healthy. @default 10_000 */
    readonly healthTimeoutMs?: number;
    /** How long an old release may drain. @default 10_000 (below `stopTimeoutMs`) */
    readonly drainDeadlineMs?: number;
  };
  /** How long a new process has to answer its runtime health check. @default 10_000 */
  readonly startTimeoutMs?: number;
  /** How long a process has to drain after SIGTERM before SIGKILL; longer than the runtime's own drain deadline. @default 12_000 */
  readonly stopTimeoutMs?: number;
}

/** A service as this adapter describes it: the port's view plus what only a local process has. */
export interface LocalComputeService extends ComputeService {
  readonly pid?: number;
  /** Times the process was restarted after exiting on its own. */
  readonly restarts?: number;
}

const recordSchema = z.object({
  serviceName: z.string(),
  tenantId: z.string(),
  pid: z.number().int().positive(),
  port: z.number().int().min(1).max(65_535),
  /** Where the reloader answers `/__runtime/healthz`. */
  healthPort: z.number().int().min(1).max(65_535),
  startedAt: z.string(),
});
type ServiceRecord = z.infer<typeof recordSchema>;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A process of ours, as last spawned. */
interface Run {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  readonly exited: Promise<Exit>;
  exit?: Exit;
}

/** A service this instance knows: one it started (and supervises) or one it adopted from a record. */
interface Service {
  readonly serviceName: string;
  readonly tenantId: string;
  readonly port: number;
  readonly healthPort: number;
  readonly env: NodeJS.ProcessEnv;
  /** 'starting' until the first health check passes; only 'running' services are restarted. */
  state: 'starting' | 'running' | 'stopping';
  /** Ours, supervised; undefined for a process adopted from a previous run. */
  run?: Run;
  adoptedPid?: number;
  restarts: number;
  backoffStep: number;
  restartTimer?: NodeJS.Timeout;
  /** A restart whose process is being spawned. */
  restarting?: Promise<void>;
}

const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const LOOPBACK = '127.0.0.1';
const POLL_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 1_000;
const RESTART_BASE_MS = 200;
const RESTART_MAX_MS = 10_000;
/** A process that ran this long before exiting restarts with the base delay again. */
const STABLE_AFTER_MS = 30_000;
const START_ATTEMPTS = 5;
const LOG_TAIL_LINES = 20;

const DEFAULT_RUNTIME_ENTRY = fileURLToPath(new URL('../../runtime/reloader/main.ts', import.meta.url));

/** Every child of every instance, killed when this process exits. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
  liveChildren.add(child);
}

const delay = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

const runtimeHealthSchema = z.object({ status: z.literal('ok'), runtime: z.object({ pid: z.number() }) });

/** The pid the reloader whose runtime health is on `port` reports from `/__runtime/healthz`, or undefined if nothing healthy answers. */
function probeRuntime(port: number): Promise<number | undefined> {
  return new Promise((resolvePid) => {
    const req = request(
      { host: LOOPBACK, port, path: '/__runtime/healthz', agent: false, timeout: PROBE_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', () => resolvePid(undefined));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolvePid(undefined);
          try {
            const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            const health = runtimeHealthSchema.safeParse(body);
            resolvePid(health.success ? health.data.runtime.pid : undefined);
          } catch {
            resolvePid(undefined);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolvePid(undefined));
    req.end();
  });
}

export class ProcessCompute implements ComputePort {
  private readonly stateDir: string;
  private readonly appFilesRoot: string;
  private readonly runtimeEntry: string;
  private readonly secrets: SecretsPort | undefined;
  private readonly reloader: NonNullable<ProcessComputeOptions['reloader']>;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly services = new Map<string, Service>();
  /** Operations on one service run one at a time. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private bundle?: Promise<string>;

  constructor(options: ProcessComputeOptions) {
    this.stateDir = resolve(options.stateDir);
    this.appFilesRoot = resolve(options.appFilesRoot);
    this.runtimeEntry = options.runtimeEntry ?? DEFAULT_RUNTIME_ENTRY;
    this.secrets = options.secrets;
    this.reloader = options.reloader ?? {};
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 12_000;
  }

  ensureService(spec: ComputeSpec): Promise<LocalComputeService> {
    checkServiceName(spec.serviceName);
    return this.serially(spec.serviceName, () => this.ensure(spec));
  }

  removeService(serviceName: string): Promise<boolean> {
    checkServiceName(serviceName);
    return this.serially(serviceName, () => this.remove(serviceName));
  }

  async describeService(serviceName: string): Promise<LocalComputeService | undefined> {
    checkServiceName(serviceName);
    const service = this.services.get(serviceName);
    if (service) return this.describe(service);
    const record = await this.readRecord(serviceName);
    if (!record) return undefined;
    const running = isProcessAlive(record.pid) && (await probeRuntime(record.healthPort)) === record.pid;
    return { serviceName, running, endpoint: endpointOf(record.port), pid: record.pid, restarts: 0 };
  }

  async listServices(): Promise<string[]> {
    const names = new Set(this.services.keys());
    try {
      for (const file of await readdir(this.recordsDir())) {
        if (file.endsWith('.json')) names.add(file.slice(0, -'.json'.length));
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return [...names].sort();
  }

  /** Stops every process this instance started (records stay, so a later run can start them again). */
  async stopAll(): Promise<void> {
    const names = new Set([...this.services.keys(), ...this.queues.keys()]);
    await Promise.all(
      [...names].map((name) =>
        this.serially(name, async () => {
          const service = this.services.get(name);
          if (service?.run) await this.stop(service);
          this.services.delete(name);
        }),
      ),
    );
  }

  private async ensure(spec: ComputeSpec): Promise<LocalComputeService> {
    const known = this.services.get(spec.serviceName);
    if (known && !known.run && !(known.adoptedPid !== undefined && isProcessAlive(known.adoptedPid))) {
      // An adopted process that has gone away: start the service afresh.
      this.services.delete(spec.serviceName);
    } else if (known) {
      if (await this.waitHealthy(known)) return this.describe(known);
      throw new TransientError(
        `service ${spec.serviceName} is not answering its runtime health check on ${endpointOf(known.healthPort)}\n${await this.logTail(spec.serviceName)}`,
      );
    }
    const record = await this.readRecord(spec.serviceName);
    if (record && isProcessAlive(record.pid) && (await probeRuntime(record.healthPort)) === record.pid) {
      const adopted: Service = {
        serviceName: spec.serviceName,
        tenantId: record.tenantId,
        port: record.port,
        healthPort: record.healthPort,
        env: {},
        state: 'running',
        adoptedPid: record.pid,
        restarts: 0,
        backoffStep: 0,
      };
      this.services.set(spec.serviceName, adopted);
      return this.describe(adopted);
    }
    return this.start(spec, record);
  }

  private async start(spec: ComputeSpec, previous: ServiceRecord | undefined): Promise<LocalComputeService> {
    const bundle = await this.runtimeBundle();
    const appDir = this.appDirOf(spec);
    const fromSecrets = await this.secretEnvironment(spec);
    await mkdir(join(this.stateDir, 'logs'), { recursive: true });
    await mkdir(this.recordsDir(), { recursive: true });

    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      const port = attempt === 1 && previous ? previous.port : await freeLoopbackPort();
      const healthPort = attempt === 1 && previous ? previous.healthPort : await freeLoopbackPort();
      const service: Service = {
        serviceName: spec.serviceName,
        tenantId: spec.tenantId,
        port,
        healthPort,
        env: {
          ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
          // A local cache or database with TLS signed by a private CA: tenants trust what the control plane trusts.
          ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
          ...fromSecrets,
          HOSTPLANE_TENANT_ID: spec.tenantId,
          HOSTPLANE_APP_DIR: appDir,
          HOST: LOOPBACK,
          PORT: String(port),
          HOSTPLANE_RUNTIME_HEALTH_HOST: LOOPBACK,
          HOSTPLANE_RUNTIME_HEALTH_PORT: String(healthPort),
          HOSTPLANE_RELOADER_POLL_MS: String(this.reloader.pollIntervalMs ?? 1_000),
          HOSTPLANE_HEALTH_TIMEOUT_MS: String(this.reloader.healthTimeoutMs ?? 10_000),
          HOSTPLANE_DRAIN_DEADLINE_MS: String(this.reloader.drainDeadlineMs ?? Math.min(10_000, this.stopTimeoutMs - 1_000)),
          // Old and new release overlap during a swap: both within the role's connection limit.
          HOSTPLANE_DB_POOL_MAX: '4',
        },
        state: 'starting',
        restarts: 0,
        backoffStep: 0,
      };
      const run = await this.spawnRun(service, bundle);
      const outcome = await this.waitStarted(service, run);
      if (outcome === 'healthy') {
        service.state = 'running';
        this.services.set(spec.serviceName, service);
        return this.describe(service);
      }
      if (outcome !== 'timeout' && outcome.code === RuntimeExitCode.addressUnavailable) continue;
      service.state = 'stopping';
      await this.stopRun(run);
      await rm(this.recordPath(spec.serviceName), { force: true });
      const why = outcome === 'timeout' ? `did not answer within ${this.startTimeoutMs} ms` : `exited (${describeExit(outcome)})`;
      throw new TransientError(
        `service ${spec.serviceName} ${why}; last lines of ${this.logPath(spec.serviceName)}:\n${await this.logTail(spec.serviceName)}`,
      );
    }
    throw new TransientError(`service ${spec.serviceName}: no free loopback port after ${START_ATTEMPTS} attempts`);
  }

  private async spawnRun(service: Service, bundle: string): Promise<Run> {
    const log = await open(this.logPath(service.serviceName), 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [bundle], {
        env: service.env,
        stdio: ['ignore', log.fd, log.fd, 'ipc'],
        windowsHide: true,
      });
    } finally {
      await log.close();
    }
    trackChild(child);
    const exited = new Promise<Exit>((done) => {
      child.once('exit', (code, signal) => done({ code, signal }));
      // 'error' without a pid: it never started. With one, the process runs on and 'exit' will follow.
      child.on('error', () => {
        if (child.pid === undefined) done({ code: null, signal: null });
      });
    });
    const run: Run = { child, pid: child.pid ?? 0, startedAt: Date.now(), exited };
    service.run = run;
    void exited.then((exit) => {
      liveChildren.delete(child);
      run.exit = exit;
      if (service.run === run) this.onExit(service, run, exit);
    });
    if (run.pid > 0) {
      await this.writeRecord({
        serviceName: service.serviceName,
        tenantId: service.tenantId,
        pid: run.pid,
        port: service.port,
        healthPort: service.healthPort,
        startedAt: new Date(run.startedAt).toISOString(),
      });
    }
    return run;
  }

  /** Restarts a running service's process that exited on its own, on the same port, with backoff. */
  private onExit(service: Service, run: Run, exit: Exit): void {
    if (service.state !== 'running' || this.services.get(service.serviceName) !== service) return;
    if (Date.now() - run.startedAt >= STABLE_AFTER_MS) service.backoffStep = 0;
    const wait = Math.min(RESTART_BASE_MS * 2 ** service.backoffStep, RESTART_MAX_MS);
    service.backoffStep++;
    void this.note(service.serviceName, `process ${run.pid} exited (${describeExit(exit)}); restarting in ${wait} ms`);
    service.restartTimer = setTimeout(() => {
      service.restartTimer = undefined;
      if (service.state !== 'running') return;
      service.restarts++;
      service.restarting = this.runtimeBundle()
        .then(async (bundle) => void (await this.spawnRun(service, bundle)))
        .catch(async (error: unknown) => {
          await this.note(service.serviceName, `restart failed: ${errorMessage(error)}`);
          this.onExit(service, { ...run, startedAt: Date.now() }, exit);
        })
        .finally(() => {
          service.restarting = undefined;
        });
    }, wait);
  }

  private async waitStarted(service: Service, run: Run): Promise<'healthy' | 'timeout' | Exit> {
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (run.exit) return run.exit;
      if ((await probeRuntime(service.healthPort)) === run.pid) return 'healthy';
      await Promise.race([delay(POLL_INTERVAL_MS), run.exited]);
    }
    return run.exit ?? 'timeout';
  }

  /** Waits for a known service to answer as the process we expect (a restart may be under way). */
  private async waitHealthy(service: Service): Promise<boolean> {
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const expected = service.run?.pid ?? service.adoptedPid;
      if (expected !== undefined && (await probeRuntime(service.healthPort)) === expected) return true;
      if (Date.now() >= deadline) return false;
      await delay(POLL_INTERVAL_MS);
    }
  }

  private async remove(serviceName: string): Promise<boolean> {
    const service = this.services.get(serviceName);
    const record = await this.readRecord(serviceName);
    if (!service && !record) return false;
    if (service) {
      await this.stop(service);
      this.services.delete(serviceName);
    } else if (record && isProcessAlive(record.pid) && (await this.isRuntime(record))) {
      await this.stopPid(record.pid);
    }
    await rm(this.recordPath(serviceName), { force: true });
    return true;
  }

  private async stop(service: Service): Promise<void> {
    service.state = 'stopping';
    if (service.restartTimer) clearTimeout(service.restartTimer);
    service.restartTimer = undefined;
    await service.restarting;
    if (service.run) await this.stopRun(service.run);
    else if (service.adoptedPid !== undefined) await this.stopPid(service.adoptedPid);
  }

  /** SIGTERM (the runtime drains), then SIGKILL after the deadline. */
  private async stopRun(run: Run): Promise<void> {
    if (run.exit) return;
    run.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((done) => {
      timer = setTimeout(() => done('late'), this.stopTimeoutMs);
    });
    const outcome = await Promise.race([run.exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  }

  /** Stops a process that is not our child (adopted from a previous run). */
  private async stopPid(pid: number): Promise<void> {
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(pid, sig);
      } catch {
        // Already gone.
      }
    };
    signal('SIGTERM');
    const gone = async (timeoutMs: number): Promise<boolean> => {
      const deadline = Date.now() + timeoutMs;
      while (isProcessAlive(pid)) {
        if (Date.now() >= deadline) return false;
        await delay(POLL_INTERVAL_MS);
      }
      return true;
    };
    if (await gone(this.stopTimeoutMs)) return;
    signal('SIGKILL');
    await gone(2_000);
  }

  /** Whether a recorded pid is still a tenant runtime (not a reused pid), before signalling it. */
  private async isRuntime(record: ServiceRecord): Promise<boolean> {
    if ((await probeRuntime(record.healthPort)) === record.pid) return true;
    try {
      const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8');
      return cmdline.includes(this.bundlePath());
    } catch {
      return false;
    }
  }

  private describe(service: Service): LocalComputeService {
    const run = service.run;
    const pid = run?.pid ?? service.adoptedPid;
    const running =
      service.state !== 'stopping' && (run ? run.exit === undefined : pid !== undefined && isProcessAlive(pid));
    return { serviceName: service.serviceName, running, endpoint: endpointOf(service.port), pid, restarts: service.restarts };
  }

  /** Builds the runtime once per instance. */
  private runtimeBundle(): Promise<string> {
    this.bundle ??= this.buildRuntime().catch((error: unknown) => {
      this.bundle = undefined;
      throw error;
    });
    return this.bundle;
  }

  private async buildRuntime(): Promise<string> {
    const outfile = this.bundlePath();
    try {
      await build({
        entryPoints: [this.runtimeEntry],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        // CommonJS packages bundled into an ES module (ioredis) still call `require` for Node built-ins.
        banner: { js: "import { createRequire as __hostplaneCreateRequire } from 'node:module';\nconst require = __hostplaneCreateRequire(import.meta.url);" },
        // No source map: the bundle is not minified, and --enable-source-maps costs ~10 MB of RSS per tenant.
        logLevel: 'silent',
      });
    } catch (error) {
      throw new PermanentError(`cannot build the tenant runtime from ${this.runtimeEntry}: ${errorMessage(error)}`);
    }
    return outfile;
  }

  /** The variables a spec takes from secrets, read now (as ECS does when a task starts). */
  private async secretEnvironment(spec: ComputeSpec): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    const cache = new Map<string, Readonly<Record<string, string>> | undefined>();
    for (const variable of spec.secretEnvironment) {
      if (!this.secrets) throw new PermanentError(`service ${spec.serviceName} needs secrets, and this compute adapter was given no secrets port`);
      if (!cache.has(variable.secretName)) cache.set(variable.secretName, await this.secrets.get(variable.secretName));
      const value = cache.get(variable.secretName)?.[variable.key];
      if (value !== undefined) env[variable.name] = value;
      else if (!variable.optional) {
        throw new TransientError(`service ${spec.serviceName}: secret ${variable.secretName} has no ${variable.key} (for ${variable.name}) yet`);
      }
    }
    return env;
  }

  private appDirOf(spec: ComputeSpec): string {
    const appDir = resolve(this.appFilesRoot, spec.appFilesFolder);
    const inside = relative(this.appFilesRoot, appDir);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
      throw new ValidationError('appFilesFolder', `must be a folder inside the app-files root, got ${JSON.stringify(spec.appFilesFolder)}`);
    }
    return appDir;
  }

  private async readRecord(serviceName: string): Promise<ServiceRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.recordPath(serviceName), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return recordSchema.parse(JSON.parse(text));
    } catch {
      // A torn or foreign file says nothing reliable about a process: treat it as no record.
      return undefined;
    }
  }

  private async writeRecord(record: ServiceRecord): Promise<void> {
    const path = this.recordPath(record.serviceName);
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
    await rename(temporary, path);
  }

  private async note(serviceName: string, line: string): Promise<void> {
    try {
      const log = await open(this.logPath(serviceName), 'a');
      await log.write(`[hostplane ${new Date().toISOString()}] ${line}\n`);
      await log.close();
    } catch {
      // The note is a courtesy; losing it must not break supervision.
    }
  }

  private async logTail(serviceName: string): Promise<string> {
    try {
      const text = await readFile(this.logPath(serviceName), 'utf8');
      return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private serially<T>(serviceName: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(serviceName) ?? Promise.resolve();
    const next = previous.then(operation, operation);
    const settled = next.catch(() => undefined);
    this.queues.set(serviceName, settled);
    void settled.then(() => {
      if (this.queues.get(serviceName) === settled) this.queues.delete(serviceName);
    });
    return next;
  }

  private bundlePath(): string {
    return join(this.stateDir, 'build', 'tenant-reloader.mjs');
  }

  private recordsDir(): string {
    return join(this.stateDir, 'compute');
  }

  private recordPath(serviceName: string): string {
    return join(this.recordsDir(), `${serviceName}.json`);
  }

  private logPath(serviceName: string): string {
    return join(this.stateDir, 'logs', `${serviceName}.log`);
  }
}

function checkServiceName(serviceName: string): void {
  if (!SERVICE_NAME.test(serviceName)) {
    throw new ValidationError('serviceName', `must be 1-63 lowercase letters, digits or hyphens, got ${JSON.stringify(serviceName)}`);
  }
}

function endpointOf(port: number): string {
  return `${LOOPBACK}:${port}`;
}

function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
