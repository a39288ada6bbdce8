/** `hostplane doctor`: the real CLI as a child process against a fake API answering GET /drift and POST /drift/fix. */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { DriftReportView } from '../../bin/cli/doctor-command.js';
import { freeLoopbackPort } from '../../local/process-helpers.js';

const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function doctor(args: readonly string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.HOSTPLANE_API_URL;
  const child = spawn(process.execPath, ['bin/hostplane.js', 'doctor', ...args], {
    cwd: repositoryRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

interface FakeDriftApi {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

/** Answers GET /drift with `report` and POST /drift/fix with `fixed` (or `status` with a message). */
async function startFakeDriftApi(answers: { report?: DriftReportView; fixed?: DriftReportView; status?: number }): Promise<FakeDriftApi> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const answer = req.method === 'GET' && req.url === '/drift' ? answers.report : req.method === 'POST' && req.url === '/drift/fix' ? answers.fixed : undefined;
    const status = answers.status ?? (answer ? 200 : 404);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status === 200 ? answer : { error: 'InternalError', message: `the fake answers ${status} to ${req.method} ${req.url}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const problem = (kind: string, resource: string, name: string) => ({ kind, resource, name, detail: name });

const clean: DriftReportView = {
  environment: 'local',
  checkedAt: '2025-01-02T03:04:05.000Z',
  tenants: [
    { tenantId: 'acme', status: 'ACTIVE', problems: [] },
    { tenantId: 'bravo', status: 'DELETED', problems: [] },
  ],
  unknown: [],
  notes: [],
};

const drifting: DriftReportView = {
  ...clean,
  tenants: [
    { tenantId: 'acme', status: 'ACTIVE', problems: [problem('missing', 'database', 'hp_local_local_acme'), { kind: 'status', resource: 'compute', name: 'hp-local-local-acme', detail: 'hp-local-local-acme is not running' }] },
    { tenantId: 'bravo', status: 'DELETED', problems: [problem('orphaned', 'role', 'hp_local_local_bravo_app')] },
    { tenantId: 'carol', status: 'ACTIVE', problems: [] },
    { tenantId: 'delta', status: 'PROVISIONING', problems: [], skipped: 'it is being provisioned' },
  ],
  unknown: [{ ...problem('orphaned', 'database', 'hp_local_local_ghost'), kind: 'orphaned', tenantId: 'ghost' }],
  notes: ['cache users not checked: no Redis reachable at redis://127.0.0.1:6379 (connection refused)'],
};

describe('hostplane doctor', () => {
  let api: FakeDriftApi | undefined;

  beforeEach(() => {
    api = undefined;
  });

  afterEach(async () => {
    await api?.close();
  });

  it('says how many tenants it checked and exits 0 when there is no drift', async () => {
    api = await startFakeDriftApi({ report: clean });

    const run = await doctor(['--api', api.url]);

    expect(run).toEqual({ code: 0, stdout: '2 tenants checked, 0 with drift\n', stderr: '' });
    expect(api.requests).toEqual(['GET /drift']);
  });

  it('prints a block per tenant with drift, the unknown and unchecked ones, and exits 1', async () => {
    api = await startFakeDriftApi({ report: drifting });

    const run = await doctor(['--api', api.url]);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.stdout.trimEnd().split('\n')).toEqual([
      'acme   ACTIVE        missing database hp_local_local_acme',
      'acme   ACTIVE        status compute hp-local-local-acme is not running',
      'bravo  DELETED       orphaned role hp_local_local_bravo_app',
      'ghost  UNREGISTERED  orphaned database hp_local_local_ghost',
      'delta  PROVISIONING  not checked: it is being provisioned',
      'note: cache users not checked: no Redis reachable at redis://127.0.0.1:6379 (connection refused)',
      '5 tenants checked, 3 with drift',
    ]);
  });

  it('with --fix, asks the API to fix, prints what was removed, and exits 0 when nothing is left', async () => {
    api = await startFakeDriftApi({
      fixed: {
        ...clean,
        fixed: [
          { tenantId: 'bravo', status: 'DELETED', removed: [{ resource: 'role', name: 'hp_local_local_bravo_app' }], failed: [] },
          { tenantId: 'ghost', status: null, removed: [{ resource: 'database', name: 'hp_local_local_ghost' }], failed: [] },
        ],
      },
    });

    const run = await doctor(['--fix', '--api', api.url]);

    expect(api.requests).toEqual(['POST /drift/fix']);
    expect(run.code).toBe(0);
    expect(run.stdout.trimEnd().split('\n')).toEqual([
      'bravo  DELETED       removed role hp_local_local_bravo_app',
      'ghost  UNREGISTERED  removed database hp_local_local_ghost',
      '2 tenants checked, 0 with drift',
    ]);
  });

  it('with --fix, exits 1 when a removal failed', async () => {
    api = await startFakeDriftApi({
      fixed: { ...clean, fixed: [{ tenantId: 'bravo', status: 'DELETED', removed: [], failed: [{ resource: 'role', name: 'hp_local_local_bravo_app', error: 'role is busy' }] }] },
    });

    const run = await doctor(['--fix', '--api', api.url]);

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('bravo  DELETED  could not remove role hp_local_local_bravo_app: role is busy\n');
  });

  it('with --json, prints the report as the API answered it, and still exits 1 on drift', async () => {
    api = await startFakeDriftApi({ report: drifting });

    const run = await doctor(['--json', '--api', api.url]);

    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual(drifting);
  });

  it('reports an API failure, or no API, on one line and exits 1', async () => {
    api = await startFakeDriftApi({ status: 500 });
    const failed = await doctor(['--api', api.url]);
    const nobody = await doctor(['--api', `http://127.0.0.1:${await freeLoopbackPort()}`]);

    expect(failed).toEqual({ code: 1, stdout: '', stderr: 'hostplane: the fake answers 500 to GET /drift\n' });
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/^hostplane: cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is `npm start` running\?\n$/);
  });
});
