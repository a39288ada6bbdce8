import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isProcessAlive } from '../../local/process-helpers.js';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComputeSpec } from '../../lambdas/ports/compute.js';
import { FileSecrets } from '../../local/adapters/file-secrets.js';
import { ProcessCompute } from '../../local/adapters/process-compute.js';
import { send, type Reply } from '../support/http.js';
import { pollUntil } from '../support/poll.js';
import { flipCurrent, publishRelease } from '../runtime/support/release-dir.js';


function get(endpoint: string, path: string, agent: Agent | false = false): Promise<Reply> {
  const [host, port] = endpoint.split(':');
  return send(Number(port), { host, path, agent });
}

/** The pid of a process that has already exited (for stale records). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid ?? 999_999;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function specFor(tenantId: string, secretEnvironment: ComputeSpec['secretEnvironment'] = []): ComputeSpec {
  return {
    serviceName: `hp-dev-local-${tenantId}`,
    tenantId,
    displayName: tenantId,
    memoryMb: 256,
    cpuUnits: 256,
    appFilesFolder: `tenants/${tenantId}`,
    secretNames: [...new Set(secretEnvironment.map((variable) => variable.secretName))],
    secretEnvironment,
  };
}

/** The fixture app's `/info` (its release and pid) through the service's endpoint. */
async function info(endpoint: string): Promise<{ releaseId: string; pid: number }> {
  return JSON.parse((await get(endpoint, '/info')).body) as { releaseId: string; pid: number };
}

/** A process's environment, from /proc. */
async function environmentOf(pid: number): Promise<Record<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(raw.split('\0').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

describe('ProcessCompute (a reloader per tenant, running the release current names)', () => {
  const acme = specFor('acme', [
    { name: 'PGUSER', secretName: 'hostplane/dev/local/acme/database', key: 'username' },
    { name: 'REDIS_URL', secretName: 'hostplane/dev/local/acme/cache', key: 'url', optional: true },
  ]);
  let stateDir: string;
  let appFilesRoot: string;
  let secrets: FileSecrets;
  let compute: ProcessCompute;
  const appDir = (tenantId: string) => join(appFilesRoot, 'tenants', tenantId);

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hp-compute-state-'));
    appFilesRoot = await mkdtemp(join(tmpdir(), 'hp-compute-files-'));
    secrets = new FileSecrets(join(stateDir, 'secrets'));
    await secrets.getOrCreate('hostplane/dev/local/acme/database', () => ({ username: 'acme_login', password: 'x' }));
    compute = new ProcessCompute({ stateDir, appFilesRoot, secrets, reloader: { pollIntervalMs: 50, healthTimeoutMs: 3_000 } });
    await mkdir(appDir('acme'), { recursive: true });
    await publishRelease(appDir('acme'), 'v1');
    await flipCurrent(appDir('acme'), 'v1', 'file');
  });

  afterAll(async () => {
    await compute.stopAll();
    await rm(stateDir, { recursive: true, force: true });
    await rm(appFilesRoot, { recursive: true, force: true });
  });

  it('starts a reloader whose app serves the release current names, with the variables its secrets give', async () => {
    const service = await compute.ensureService(acme);

    expect(service).toMatchObject({ serviceName: 'hp-dev-local-acme', running: true });
    expect(service.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    const app = await pollUntil(async () => (await get(service.endpoint, '/')).body.trim() === 'v1' ? info(service.endpoint) : undefined, {
      what: 'release v1 to serve',
    });
    const env = await environmentOf(app.pid);
    expect(env).toMatchObject({ PGUSER: 'acme_login', LISTEN_FDS: '1', HOSTPLANE_RELEASE_ID: 'v1' });
    // The optional cache secret does not exist: its variable is left out rather than failing the start.
    expect(env).not.toHaveProperty('REDIS_URL');
  });

  it('refuses to start a service whose required secret does not exist yet, naming it', async () => {
    const lacking = specFor('lacking', [{ name: 'PGPASSWORD', secretName: 'hostplane/dev/local/lacking/database', key: 'password' }]);

    await expect(compute.ensureService(lacking)).rejects.toThrow(/secret hostplane\/dev\/local\/lacking\/database has no password \(for PGPASSWORD\)/);
    expect(await compute.describeService(lacking.serviceName)).toBeUndefined();
  });

  it('records the service with its runtime health port, which reports the reloader apart from the app', async () => {
    const service = await compute.describeService(acme.serviceName);
    const record = JSON.parse(await readFile(join(stateDir, 'compute', 'hp-dev-local-acme.json'), 'utf8')) as Record<string, number>;

    expect(record).toMatchObject({ serviceName: 'hp-dev-local-acme', tenantId: 'acme', pid: service?.pid, port: Number(service?.endpoint.split(':')[1]) });
    // The service is serving once its socket accepts; the app's own health check may still be under way.
    const health = await pollUntil(
      async () => {
        const report = JSON.parse((await get(`127.0.0.1:${record.healthPort}`, '/__runtime/healthz')).body) as Record<string, Record<string, unknown>>;
        return report.app?.state === 'starting' ? undefined : report;
      },
      { what: 'the app of acme to finish starting' },
    );
    expect(health).toMatchObject({ status: 'ok', runtime: { pid: service?.pid }, app: { state: 'healthy', releaseId: 'v1' } });
  });

  it('adopts the running process when the service is ensured again, from this instance or another', async () => {
    const before = await compute.describeService(acme.serviceName);
    expect((await compute.ensureService(acme)).pid).toBe(before?.pid);

    const other = new ProcessCompute({ stateDir, appFilesRoot, secrets });
    try {
      const adopted = await other.ensureService(acme);
      expect(adopted).toMatchObject({ running: true, endpoint: before?.endpoint, pid: before?.pid });
      expect(await other.listServices()).toEqual(['hp-dev-local-acme']);
    } finally {
      await other.stopAll();
    }
    expect(isProcessAlive(before?.pid ?? 0)).toBe(true);
  });

  it('swaps to a new release when current flips, without restarting the reloader', async () => {
    const before = await compute.describeService(acme.serviceName);
    await publishRelease(appDir('acme'), 'v2');
    await flipCurrent(appDir('acme'), 'v2', 'file');

    await pollUntil(async () => ((await get(before?.endpoint ?? '', '/')).body.trim() === 'v2' ? true : undefined), { what: 'v2 to serve' });
    expect((await compute.describeService(acme.serviceName))?.pid).toBe(before?.pid);
  });

  it('restarts a reloader that dies, on the same port, and counts the restart', async () => {
    const before = await compute.describeService(acme.serviceName);

    process.kill(before?.pid ?? 0, 'SIGKILL');

    const after = await pollUntil(
      async () => {
        const now = await compute.describeService(acme.serviceName);
        if (!now?.running || now.pid === before?.pid) return undefined;
        return (await get(now.endpoint, '/')).body.trim() === 'v2' ? now : undefined;
      },
      { what: 'the restarted reloader to serve v2 again' },
    );
    expect(after.endpoint).toBe(before?.endpoint);
    expect(after.restarts).toBe(1);
  });

  it('backs off exponentially when the reloader keeps dying', async () => {
    const before = await compute.describeService(acme.serviceName);

    process.kill(before?.pid ?? 0, 'SIGKILL');

    const after = await pollUntil(
      async () => {
        const now = await compute.describeService(acme.serviceName);
        return now?.running && now.pid !== before?.pid ? now : undefined;
      },
      { what: 'the second restart' },
    );
    const log = await readFile(join(stateDir, 'logs', 'hp-dev-local-acme.log'), 'utf8');
    expect(after.restarts).toBe(2);
    expect(log).toContain('restarting in 200 ms');
    expect(log).toContain('restarting in 400 ms');
  });

  it('removes the service: the reloader and its app are gone, and only the first removal says it was there', async () => {
    const service = await compute.describeService(acme.serviceName);
    const app = await pollUntil(async () => {
      const reply = await get(service?.endpoint ?? '', '/info').catch(() => undefined);
      return reply?.status === 200 ? (JSON.parse(reply.body) as { pid: number }) : undefined;
    }, { what: 'the app to answer' });

    const first = await compute.removeService(acme.serviceName);
    const second = await compute.removeService(acme.serviceName);

    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(isProcessAlive(service?.pid ?? 0)).toBe(false);
    await pollUntil(() => (isProcessAlive(app.pid) ? undefined : true), { what: 'the app process to exit' });
    expect(await compute.describeService(acme.serviceName)).toBeUndefined();
    expect(await compute.listServices()).toEqual([]);
  });

  it('does not count a stale record as running, and starts the service afresh over it', async () => {
    const beta = specFor('beta');
    await mkdir(appDir('beta'), { recursive: true });
    await publishRelease(appDir('beta'), 'b1');
    await flipCurrent(appDir('beta'), 'b1');
    const stalePid = await deadPid();
    await mkdir(join(stateDir, 'compute'), { recursive: true });
    await writeFile(
      join(stateDir, 'compute', 'hp-dev-local-beta.json'),
      JSON.stringify({ serviceName: beta.serviceName, tenantId: 'beta', pid: stalePid, port: await freePort(), healthPort: await freePort(), startedAt: new Date(0).toISOString() }),
    );

    const stale = await compute.describeService(beta.serviceName);
    const started = await compute.ensureService(beta);

    expect(stale).toMatchObject({ running: false });
    expect(await compute.listServices()).toEqual(['hp-dev-local-beta']);
    expect(started.running).toBe(true);
    expect(started.pid).not.toBe(stalePid);
    await pollUntil(async () => ((await get(started.endpoint, '/')).body.trim() === 'b1' ? true : undefined), { what: 'b1 to serve' });
    await compute.removeService(beta.serviceName);
  });

  it('removes a stale record whose process is already gone', async () => {
    await writeFile(
      join(stateDir, 'compute', 'hp-dev-local-gamma.json'),
      JSON.stringify({ serviceName: 'hp-dev-local-gamma', tenantId: 'gamma', pid: await deadPid(), port: await freePort(), healthPort: await freePort(), startedAt: new Date(0).toISOString() }),
    );

    expect(await compute.removeService('hp-dev-local-gamma')).toBe(true);
    expect(await compute.listServices()).toEqual([]);
  });

  it('drains on removal: a kept-alive connection gets its answer with Connection: close', async () => {
    const delta = specFor('delta');
    await mkdir(appDir('delta'), { recursive: true });
    await publishRelease(appDir('delta'), 'd1');
    await flipCurrent(appDir('delta'), 'd1');
    const service = await compute.ensureService(delta);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await pollUntil(async () => ((await get(service.endpoint, '/', agent)).status === 200 ? true : undefined), { what: 'd1 to serve' });
      const removing = compute.removeService(delta.serviceName);
      const during = await pollUntil(async () => {
        const reply = await get(service.endpoint, '/', agent);
        return reply.headers.connection === 'close' ? reply : undefined;
      }, { what: 'an answer with Connection: close' });
      expect(during.status).toBe(200);
      expect(await removing).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});
