import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startLocalControlPlane, type LocalControlPlane, type LocalControlPlaneOptions } from '../../local/control-plane.js';
import { dropTestDatabases } from './databases.js';
import { send } from './http.js';
import { pollUntil } from './poll.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueEnvironment } from './services.js';

export interface TestControlPlane extends LocalControlPlane {
  readonly stateDir: string;
  /** Stops everything and removes every database, role, cache user and file of this run. */
  destroy(): Promise<void>;
}

/** A local control plane on the machine's PostgreSQL and Redis, in a fresh environment and state folder. */
export async function startTestControlPlane(options: Partial<LocalControlPlaneOptions> = {}): Promise<TestControlPlane> {
  const environment = options.environment ?? uniqueEnvironment();
  const stateDir = await mkdtemp(join(tmpdir(), 'hostplane-test-'));
  const controlPlane = await startLocalControlPlane({
    stateDir,
    environment,
    databaseUrl: TEST_DATABASE_URL,
    redisUrl: TEST_REDIS_URL,
    apiPort: 0,
    edgePort: 0,
    retryIntervalMs: 10,
    ...options,
  });
  return {
    ...controlPlane,
    stateDir,
    destroy: async () => {
      await controlPlane.close();
      await dropTestDatabases(`hp_${environment}_`);
      await deleteCacheUsers(`hp-${environment}-`);
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

async function deleteCacheUsers(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const users = (await redis.acl('USERS')) as string[];
    for (const user of users.filter((name) => name.startsWith(prefix))) await redis.acl('DELUSER', user);
  } catch {
    // No Redis here: no users to remove.
  } finally {
    redis.disconnect();
  }
}

/** Calls the control-plane API as the CLI and the console do. */
export async function api(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** GETs `path` through the front door as `<host>`, the way a browser addressing `<tenant>.localhost` would. */
export async function getThroughFrontDoor(port: number, host: string, path = '/'): Promise<{ status: number; body: string }> {
  const { status, body } = await send(port, { path, headers: { host } });
  return { status, body };
}

/**
 * Waits until the front door serves `release` for `host` on `consecutive` requests in a row.
 * Right after a swap, a connection the front door still holds to the old process gets one more
 * answer from it (with `Connection: close`: that is the drain), so one new answer is not enough.
 */
export async function waitForRelease(
  edgePort: number,
  host: string,
  release: unknown,
  { consecutive = 3, timeoutMs = 15_000 }: { consecutive?: number; timeoutMs?: number } = {},
): Promise<{ release: string; app: string }> {
  let inARow = 0;
  return pollUntil(
    async () => {
      const reply = await getThroughFrontDoor(edgePort, host, '/version');
      const version = JSON.parse(reply.body) as { release: string; app: string };
      inARow = version.release === release ? inARow + 1 : 0;
      return inARow >= consecutive ? version : undefined;
    },
    { timeoutMs, intervalMs: 20, what: `${host} to serve release ${String(release)} ${consecutive} times in a row` },
  );
}

/** Polls `GET /operations/{id}` until the operation has ended; its view, with the states it passed. */
export async function waitForOperation(baseUrl: string, operationId: unknown, { timeoutMs = 60_000 } = {}): Promise<Record<string, unknown>> {
  return pollUntil(
    async () => {
      const { body } = await api(baseUrl, 'GET', `/operations/${String(operationId)}`);
      // The last step ends the operation from inside its handler; its own record is closed just after.
      const settling = ((body.states ?? []) as { status?: unknown }[]).some((state) => state.status === 'RUNNING');
      return body.status === 'RUNNING' || settling ? undefined : body;
    },
    { timeoutMs, what: `operation ${String(operationId)} to end, its steps recorded` },
  );
}

/** The deploy machine's Task states of a good run, in order (a rollback skips the two migration states). */
export const DEPLOY_STATES = ['LoadDefinition', 'GenerateCode', 'Compile', 'PlanMigrations', 'Migrate', 'Publish', 'AwaitHealthy', 'MarkDeployed'] as const;
