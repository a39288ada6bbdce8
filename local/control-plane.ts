import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { scopeSchema, registryDatabaseName } from '../lambdas/domain/naming.js';
import type { CacheAvailability } from '../lambdas/ports/cache-users.js';
import { configurePorts, resetPorts, type PlatformConfig, type Ports } from '../lambdas/ports/index.js';
import { quoteIdent } from '../lambdas/ports/sql.js';
import { APP_DEFINITION_CHANGED } from '../lambdas/deploy/app-definition-changed.js';
import { closeEndedExecution } from '../lambdas/provision/close-ended-execution.js';
import { computeSpecFor } from '../lambdas/provision/tenant-compute.js';
import { migrateRegistry } from '../lambdas/registry/migrations.js';
import { TenantRegistry } from '../lambdas/registry/tenant-registry.js';
import { FileSecrets } from './adapters/file-secrets.js';
import { FolderAppFiles } from './adapters/folder-app-files.js';
import { FolderBackupStore } from './adapters/folder-backup-store.js';
import { SignedDownloadLinks } from './adapters/signed-download-links.js';
import { InProcessEvents } from './adapters/in-process-events.js';
import { LocalEdge } from './adapters/local-edge.js';
import { LocalWorkflows, type InjectedFault } from './adapters/local-workflows.js';
import { PgSql } from './adapters/pg-sql.js';
import { ProcessCompute } from './adapters/process-compute.js';
import { RedisCacheUsers } from './adapters/redis-cache-users.js';
import { startApiServer } from './api-server.js';
import { routeEventsToFunction } from './event-rules.js';
import { redactUrl, startEmbeddedDatabase, type EmbeddedDatabase } from './embedded-database.js';
import { preloadFunctionHandlers } from './function-handlers.js';
import { startFrontDoor } from './front-door.js';
import { isProcessAlive } from './process-helpers.js';
import './promise-with-resolvers.js';

export interface LocalControlPlaneOptions {
  /** Where everything local is kept (database, secrets, app files, logs). */
  readonly stateDir: string;
  /** @default 'local' */
  readonly environment?: string;
  /** @default 'local' */
  readonly cell?: string;
  /** Most tenants the local cell admits. @default 100 */
  readonly maxTenants?: number;
  /** @default 7700; 0 picks a free port */
  readonly apiPort?: number;
  /** @default 7780; 0 picks a free port */
  readonly edgePort?: number;
  /** An existing PostgreSQL (admin login) instead of the embedded one. */
  readonly databaseUrl?: string;
  /** The Redis that holds tenant cache users. @default redis://127.0.0.1:6379, skipped when unreachable */
  readonly redisUrl?: string;
  /** Tests: shorter waits between retries (ms). */
  readonly retryIntervalMs?: number;
  /** Tests: Task states made to fail (see {@link InjectedFault}). */
  readonly faults?: Readonly<Record<string, InjectedFault>>;
  /** How often each tenant's reloader reads `current` (ms). @default 1000 */
  readonly reloaderPollMs?: number;
  /** How long a new release has to become healthy before the reloader gives up on it (ms). @default 10_000 */
  readonly releaseHealthTimeoutMs?: number;
  /** How long a deploy waits for a release to be reported healthy (s). @default 90 */
  readonly healthWaitSeconds?: number;
  /** How long deprovision's final backup is kept (days). @default 30 */
  readonly backupRetentionDays?: number;
  /** Tests: the clock download links are signed and checked by. @default the system clock */
  readonly clock?: () => Date;
  readonly log?: (line: string) => void;
}

export interface LocalControlPlane {
  readonly apiUrl: string;
  readonly edgeUrl: string;
  readonly edgePort: number;
  readonly environment: string;
  readonly database: { readonly url: string; readonly embedded: boolean };
  readonly cache: CacheAvailability;
  readonly ports: Ports;
  readonly workflows: LocalWorkflows;
  readonly compute: ProcessCompute;
  readonly edge: LocalEdge;
  close(): Promise<void>;
}

/** The file the CLI reads to find a running control plane. */
export const CONTROL_PLANE_FILE = 'control-plane.json';

/**
 * The composition root of the local world: real PostgreSQL (embedded unless a URL is given),
 * real Redis users when a Redis answers, real processes behind a real front door, and the same
 * ASL files and handlers the cloud runs.
 */
export async function startLocalControlPlane(options: LocalControlPlaneOptions): Promise<LocalControlPlane> {
  const log = options.log ?? (() => undefined);
  const stateDir = resolve(options.stateDir);
  const { environment, cell } = scopeSchema.parse({ environment: options.environment ?? 'local', cell: options.cell ?? 'local' });
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  await claimStateDir(stateDir);

  const stack: (() => Promise<void>)[] = [() => releaseStateDir(stateDir)];
  const close = async () => {
    for (const undo of stack.reverse().splice(0)) await undo().catch((error: unknown) => log(`while stopping: ${String(error)}`));
    resetPorts();
  };

  try {
    let embedded: EmbeddedDatabase | undefined;
    let adminUrl = options.databaseUrl;
    if (!adminUrl) {
      embedded = await startEmbeddedDatabase(stateDir, log);
      stack.push(() => embedded!.stop());
      adminUrl = embedded.connectionString;
    }
    const registryDatabase = registryDatabaseName(environment);
    await ensureDatabase(adminUrl, registryDatabase);
    const sql = new PgSql({ connectionString: adminUrl, defaultDatabase: registryDatabase });
    stack.push(() => sql.close());
    const applied = await migrateRegistry(sql);
    if (applied.length) log(`registry ${registryDatabase}: applied migrations ${applied.join(', ')}`);

    const cacheUsers = new RedisCacheUsers({ url: options.redisUrl });
    stack.push(() => cacheUsers.close());
    const cache = await cacheUsers.availability();

    const appFilesRoot = join(stateDir, 'app-files');
    const secrets = new FileSecrets(join(stateDir, 'secrets'));
    const compute = new ProcessCompute({
      stateDir,
      appFilesRoot,
      secrets,
      reloader: { pollIntervalMs: options.reloaderPollMs, healthTimeoutMs: options.releaseHealthTimeoutMs },
    });
    stack.push(() => compute.stopAll());
    let edgePort = options.edgePort ?? 7780;
    const edge = new LocalEdge({ stateDir, port: () => edgePort });
    const events = new InProcessEvents((error) => log(`event listener failed: ${String(error)}`));
    const workflows = new LocalWorkflows({ events, retryIntervalMs: options.retryIntervalMs, faults: options.faults });
    stack.push(() => workflows.drain({ abort: true }).then(() => events.settled()));

    // Links to exports are served by the local API, whose address is known once it listens.
    let apiUrl = '';
    const links = new SignedDownloadLinks({ baseUrl: () => apiUrl, now: options.clock });
    const databaseUrl = new URL(adminUrl);
    const config: PlatformConfig = {
      environment,
      cells: [{ cell, maxTenants: options.maxTenants ?? 100 }],
      // Tenants use TLS when the admin URL does (an embedded or plain local server speaks none).
      databaseEndpoint: { host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432), tls: requiresTls(databaseUrl) },
      healthWaitSeconds: options.healthWaitSeconds,
      backupRetentionDays: options.backupRetentionDays,
    };
    const ports: Ports = {
      config,
      sql,
      // Locally the cell has one cache: the one Redis.
      cacheUsers: [cacheUsers],
      secrets,
      compute,
      appFiles: new FolderAppFiles(appFilesRoot),
      edge,
      workflows,
      events,
      notices: [cacheUsers],
      backups: new FolderBackupStore(join(stateDir, 'backups'), links),
    };
    configurePorts(ports);
    await preloadFunctionHandlers();

    // As EventBridge rules would: ended executions close their operations; a changed app definition is deployed.
    // A delivery that fails (the database down a moment) is tried again with backoff until stopping.
    const stopping = new AbortController();
    stack.push(async () => stopping.abort());
    const retried = (rule: string) => (error: unknown, attempt: number, delayMs: number) =>
      log(`${rule}: delivery ${attempt} failed (${error instanceof Error ? error.message : String(error)}); trying again in ${Math.round(delayMs / 1000)} s`);
    routeEventsToFunction(events, 'aws.states', 'Step Functions Execution Status Change', 'ExecutionStatusChanged', {
      idOf: (event) => String(event.detail.name),
      signal: stopping.signal,
      onRetry: retried('execution ended'),
    });
    routeEventsToFunction(events, APP_DEFINITION_CHANGED.source, APP_DEFINITION_CHANGED.detailType, 'AppDefinitionChanged', {
      signal: stopping.signal,
      onRetry: retried('app definition changed'),
      idOf: (event) => (typeof event.detail.eventId === 'string' ? event.detail.eventId : undefined),
      onAnswer: (answer, event) => {
        const { started, reason, deploymentId } = (answer ?? {}) as { started?: boolean; reason?: string; deploymentId?: string };
        const tenant = String(event.detail.tenantId);
        log(started ? `app definition changed for ${tenant}: deploying (${deploymentId})` : `app definition changed for ${tenant}: not deployed (${reason ?? 'already requested'})`);
      },
    });

    const frontDoor = await startFrontDoor({ edge, port: edgePort }).catch(portTaken(edgePort, 'front door', '--edge-port'));
    edgePort = frontDoor.port;
    stack.push(() => frontDoor.close());
    const apiPort = options.apiPort ?? 7700;
    const api = await startApiServer({ port: apiPort, downloads: { links, store: ports.backups } }).catch(portTaken(apiPort, 'API', '--api-port'));
    apiUrl = api.url;
    stack.push(() => api.close());

    await recoverTenants(ports, compute, edge, log);

    await writeFile(
      join(stateDir, CONTROL_PLANE_FILE),
      JSON.stringify({ pid: process.pid, apiUrl: api.url, edgeUrl: frontDoor.url, environment }, null, 2),
    );
    return {
      apiUrl: api.url,
      edgeUrl: frontDoor.url,
      edgePort,
      environment,
      database: { url: redactUrl(adminUrl), embedded: embedded !== undefined },
      cache,
      ports,
      workflows,
      compute,
      edge,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Turns EADDRINUSE into a message that says which port and how to choose another. */
function portTaken(port: number, what: string, flag: string) {
  return (error: unknown): never => {
    if ((error as { code?: string }).code === 'EADDRINUSE') {
      throw new Error(`port ${port} for the ${what} is taken by another program; choose another with ${flag} (0 picks a free one)`, {
        cause: error,
      });
    }
    throw error;
  };
}

/** Whether a PostgreSQL URL insists on TLS (libpq's `sslmode` require, verify-ca or verify-full, or pg's `ssl=true`). */
export function requiresTls(databaseUrl: URL): boolean {
  const sslmode = databaseUrl.searchParams.get('sslmode');
  if (sslmode !== null) return ['require', 'verify-ca', 'verify-full', 'no-verify'].includes(sslmode);
  return databaseUrl.searchParams.get('ssl') === 'true' || databaseUrl.searchParams.get('ssl') === '1';
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${quoteIdent(database)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error;
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * After a restart: operations whose executions died with the last process are closed as failed,
 * and every ACTIVE tenant gets its process and route back.
 */
async function recoverTenants(ports: Ports, compute: ProcessCompute, edge: LocalEdge, log: (line: string) => void): Promise<void> {
  const registry = new TenantRegistry(ports.sql);
  const tenants = await registry.listTenants();
  for (const tenant of tenants) {
    const running = await registry.runningOperation(tenant.tenantId);
    if (running) {
      await closeEndedExecution(
        { name: running.operationId, status: 'ABORTED', error: 'the control plane stopped while it ran' },
        ports.sql,
        ports.appFiles,
        ports.edge,
      );
      log(`closed operation ${running.operationId} of ${tenant.tenantId}: the control plane stopped while it ran`);
    }
  }
  const active = (await registry.listTenants()).filter((tenant) => tenant.status === 'ACTIVE' && tenant.plan);
  if (active.length) log(`starting ${active.length} active tenant(s)…`);
  for (const tenant of active) {
    try {
      const service = await compute.ensureService(computeSpecFor(tenant.plan!));
      await edge.registerRoute({
        tenantId: tenant.tenantId,
        hostLabel: tenant.plan!.names.hostLabel,
        endpoint: service.endpoint,
        assetsBucket: tenant.plan!.names.assetsBucket,
      });
    } catch (error) {
      log(`tenant ${tenant.tenantId} could not be started again: ${String(error)}`);
    }
  }
}

/** One control plane per state folder: a second one would share its database files and processes. */
async function claimStateDir(stateDir: string): Promise<void> {
  const lock = join(stateDir, 'control-plane.pid');
  if (existsSync(lock)) {
    const pid = Number(await readFile(lock, 'utf8'));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
      throw new Error(`another Hostplane control plane (pid ${pid}) is using ${stateDir}; stop it first, or give another --state-dir`);
    }
  }
  await writeFile(lock, String(process.pid));
}

async function releaseStateDir(stateDir: string): Promise<void> {
  await rm(join(stateDir, CONTROL_PLANE_FILE), { force: true });
  await rm(join(stateDir, 'control-plane.pid'), { force: true });
}
