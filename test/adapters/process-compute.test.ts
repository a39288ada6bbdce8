import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isProcessAlive } from '../../local/process-helpers.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComputeSpec } from '../../lambdas/ports/compute.js';
import { ProcessCompute } from '../../local/adapters/process-compute.js';
import { send, type Reply } from '../support/http.js';
import { pollUntil } from '../support/poll.js';


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

function specFor(tenantId: string, displayName: string): ComputeSpec {
  return {
    serviceName: `hp-dev-local-${tenantId}`,
    tenantId,
    displayName,
    memoryMb: 256,
    cpuUnits: 256,
    appFilesFolder: `tenants/${tenantId}`,
    secretNames: [],
  };
}

/** Runs the built runtime directly (no supervisor), collecting its output. */
function runRuntime(bundle: string, env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('ProcessCompute', () => {
  const acme = specFor('acme', 'Acme <Rockets> & Co');
  let stateDir: string;
  let appFilesRoot: string;
  let compute: ProcessCompute;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hp-compute-state-'));
    appFilesRoot = await mkdtemp(join(tmpdir(), 'hp-compute-files-'));
    compute = new ProcessCompute({ stateDir, appFilesRoot });
  });

  afterAll(async () => {
    await compute.stopAll();
    await rm(stateDir, { recursive: true, force: true });
    await rm(appFilesRoot, { recursive: true, force: true });
  });

  it('starts a process that serves the starter page of its tenant, escaped', async () => {
    const service = await compute.ensureService(acme);

    expect(service).toMatchObject({ serviceName: 'hp-dev-local-acme', running: true });
    expect(service.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    const page = await get(service.endpoint, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('Acme &#60;Rockets&#62; &#38; Co');
    expect(page.body).not.toContain('<Rockets>');
    expect(page.body).toContain('starter');
    expect(JSON.parse((await get(service.endpoint, '/version')).body)).toEqual({ tenantId: 'acme', version: 'starter' });
  });

  it('reports runtime health apart from app health, and 404 for anything else', async () => {
    const service = await compute.describeService(acme.serviceName);
    const endpoint = service?.endpoint ?? '';

    const runtime = JSON.parse((await get(endpoint, '/__runtime/healthz')).body) as Record<string, unknown>;
    const app = JSON.parse((await get(endpoint, '/healthz')).body) as Record<string, unknown>;
    const missing = await get(endpoint, '/nope');

    expect(runtime).toMatchObject({ status: 'ok', pid: service?.pid });
    expect(typeof runtime.uptimeSeconds).toBe('number');
    expect(app).toEqual({ tenantId: 'acme', version: 'starter' });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: 'not found' });
  });

  it('records the service in the state folder', async () => {
    const service = await compute.describeService(acme.serviceName);

    const record = JSON.parse(await readFile(join(stateDir, 'compute', 'hp-dev-local-acme.json'), 'utf8')) as Record<string, unknown>;

    expect(record).toMatchObject({ serviceName: 'hp-dev-local-acme', tenantId: 'acme', pid: service?.pid, port: Number(service?.endpoint.split(':')[1]) });
    expect(typeof record.startedAt).toBe('string');
  });

  it('adopts the running process when the service is ensured again', async () => {
    const before = await compute.describeService(acme.serviceName);

    const again = await compute.ensureService(acme);

    expect(again.endpoint).toBe(before?.endpoint);
    expect(again.pid).toBe(before?.pid);
  });

  it('lets another instance on the same state folder adopt the process without starting one', async () => {
    const before = await compute.describeService(acme.serviceName);
    const other = new ProcessCompute({ stateDir, appFilesRoot });
    try {
      const adopted = await other.ensureService(acme);

      expect(adopted).toMatchObject({ running: true, endpoint: before?.endpoint, pid: before?.pid });
      expect(await other.listServices()).toEqual(['hp-dev-local-acme']);
    } finally {
      await other.stopAll();
    }
    expect(isProcessAlive(before?.pid ?? 0)).toBe(true);
  });

  it('serves the version written in the app folder', async () => {
    const service = await compute.describeService(acme.serviceName);
    await mkdir(join(appFilesRoot, 'tenants', 'acme', 'current'), { recursive: true });

    await writeFile(join(appFilesRoot, 'tenants', 'acme', 'current', 'version'), 'v42\n');

    expect((await get(service?.endpoint ?? '', '/')).body).toContain('v42');
    expect(JSON.parse((await get(service?.endpoint ?? '', '/version')).body)).toEqual({ tenantId: 'acme', version: 'v42' });
  });

  it('restarts a process that dies, on the same port, and counts the restart', async () => {
    const before = await compute.describeService(acme.serviceName);

    process.kill(before?.pid ?? 0, 'SIGKILL');

    const after = await pollUntil(
      async () => {
        const now = await compute.describeService(acme.serviceName);
        if (!now?.running || now.pid === before?.pid) return undefined;
        return (await get(now.endpoint, '/__runtime/healthz')).status === 200 ? now : undefined;
      },
      { what: 'the restarted process to answer' },
    );
    expect(after.endpoint).toBe(before?.endpoint);
    expect(after.restarts).toBe(1);
    expect((await get(after.endpoint, '/')).body).toContain('v42');
  });

  it('backs off exponentially when the process keeps dying', async () => {
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

  it('removes the service: its process is gone, and only the first removal says it was there', async () => {
    const service = await compute.describeService(acme.serviceName);

    const first = await compute.removeService(acme.serviceName);
    const second = await compute.removeService(acme.serviceName);

    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(() => process.kill(service?.pid ?? 0, 0)).toThrow();
    expect(await compute.describeService(acme.serviceName)).toBeUndefined();
    expect(await compute.listServices()).toEqual([]);
  });

  it('does not count a stale record as running, and starts the service afresh over it', async () => {
    const beta = specFor('beta', 'Beta');
    const stalePid = await deadPid();
    await mkdir(join(stateDir, 'compute'), { recursive: true });
    await writeFile(
      join(stateDir, 'compute', 'hp-dev-local-beta.json'),
      JSON.stringify({ serviceName: beta.serviceName, tenantId: 'beta', pid: stalePid, port: await freePort(), startedAt: new Date(0).toISOString() }),
    );

    const stale = await compute.describeService(beta.serviceName);
    const started = await compute.ensureService(beta);

    expect(stale).toMatchObject({ running: false });
    expect(await compute.listServices()).toEqual(['hp-dev-local-beta']);
    expect(started.running).toBe(true);
    expect(started.pid).not.toBe(stalePid);
    expect((await get(started.endpoint, '/')).body).toContain('Beta');
    await compute.removeService(beta.serviceName);
  });

  it('removes a stale record whose process is already gone', async () => {
    await writeFile(
      join(stateDir, 'compute', 'hp-dev-local-gamma.json'),
      JSON.stringify({ serviceName: 'hp-dev-local-gamma', tenantId: 'gamma', pid: await deadPid(), port: await freePort(), startedAt: new Date(0).toISOString() }),
    );

    expect(await compute.removeService('hp-dev-local-gamma')).toBe(true);
    expect(await compute.listServices()).toEqual([]);
  });

  it('runtime: exits with code 2 and names what is wrong on bad configuration', async () => {
    const bundle = join(stateDir, 'build', 'tenant-runtime.mjs');
    const runtime = runRuntime(bundle, { HOSTPLANE_TENANT_ID: 'Not A Tenant', HOSTPLANE_APP_DIR: 'relative', PORT: 'eighty' });
    try {
      expect(await runtime.exited).toBe(2);
      expect(runtime.output()).toContain('bad configuration');
      expect(runtime.output()).toContain('HOSTPLANE_DISPLAY_NAME: is not set');
      expect(runtime.output()).toContain('HOSTPLANE_APP_DIR: must be an absolute path');
      expect(runtime.output()).toContain('PORT: must be a port number');
    } finally {
      runtime.child.kill('SIGKILL');
    }
  });

  it('runtime: on SIGTERM answers a kept-alive connection with Connection: close, then exits 0', async () => {
    const bundle = join(stateDir, 'build', 'tenant-runtime.mjs');
    const runtime = runRuntime(bundle, {
      HOSTPLANE_TENANT_ID: 'delta',
      HOSTPLANE_DISPLAY_NAME: 'Delta',
      HOSTPLANE_APP_DIR: join(appFilesRoot, 'tenants', 'delta'),
      PORT: '0',
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const url = await pollUntil(() => /listening on http:\/\/(127\.0\.0\.1:\d+)/.exec(runtime.output())?.[1], { what: 'the runtime to listen' });
      const first = await get(url, '/version', agent);
      expect(first.headers.connection).toBe('keep-alive');

      runtime.child.kill('SIGTERM');
      await pollUntil(() => (runtime.output().includes('draining') ? true : undefined), { what: 'the runtime to drain' });
      const during = await get(url, '/version', agent);

      expect(during.status).toBe(200);
      expect(during.reusedSocket).toBe(true);
      expect(during.headers.connection).toBe('close');
      expect(await runtime.exited).toBe(0);
    } finally {
      agent.destroy();
      runtime.child.kill('SIGKILL');
    }
  });
});
