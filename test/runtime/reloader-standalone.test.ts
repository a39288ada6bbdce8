/** The reloader as a process: configured by environment variables, drains its app and exits 0 on SIGTERM. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isProcessAlive } from '../../local/process-helpers.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pollUntil } from '../support/poll.js';
import { get } from './support/http-load.js';
import { flipCurrent, makeAppDir, publishRelease } from './support/release-dir.js';

const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const MAIN = join(repositoryRoot, 'runtime', 'reloader', 'main.ts');

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function runReloader(env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: repositoryRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('reloader: standalone process', () => {
  let appDir: string;
  const started: Running[] = [];
  const appPids: number[] = [];

  beforeAll(async () => {
    appDir = await makeAppDir();
    await publishRelease(appDir, 'v1');
    await flipCurrent(appDir, 'v1', 'file');
  });

  afterAll(async () => {
    for (const run of started) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await Promise.all(started.map((run) => run.exited));
    for (const pid of appPids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    await rm(appDir, { recursive: true, force: true });
  });

  it('exits 2 on bad configuration, naming the variable', async () => {
    const run = runReloader({ PATH: process.env.PATH, HOSTPLANE_APP_DIR: 'relative/dir', PORT: 'eighty' });
    started.push(run);
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/HOSTPLANE_APP_DIR: must be an absolute path/);
    expect(run.output()).toMatch(/PORT: must be a whole number/);
  });

  it('serves the release `current` names, reports its runtime health, and drains on SIGTERM', async () => {
    const run = runReloader({
      PATH: process.env.PATH,
      HOSTPLANE_APP_DIR: appDir,
      PORT: '0',
      HOSTPLANE_RELOADER_POLL_MS: '100',
      HOSTPLANE_RUNTIME_HEALTH_PORT: '0',
    });
    started.push(run);
    const ready = await pollUntil(() => /reloader ready: app on 127\.0\.0\.1:(\d+), runtime health at (\S+)/.exec(run.output()) ?? undefined, {
      what: `the reloader to start; output so far:\n${run.output()}`,
    });
    const port = Number(ready[1]);
    const runtimeHealthUrl = new URL(ready[2] ?? '');
    const info = await pollUntil(
      async () => {
        const reply = await get(port, '/info');
        return JSON.parse(reply.body) as { releaseId: string; pid: number };
      },
      { what: 'the app to answer' },
    );
    appPids.push(info.pid);
    expect(info.releaseId).toBe('v1');
    const health = await pollUntil(
      async () => {
        const body = JSON.parse((await get(Number(runtimeHealthUrl.port), runtimeHealthUrl.pathname)).body) as { app: { state: string } };
        return body.app.state === 'healthy' ? body : undefined;
      },
      { what: 'the runtime to report the app healthy' },
    );
    expect(health).toMatchObject({ status: 'ok', app: { state: 'healthy', releaseId: 'v1', pid: info.pid } });

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(isProcessAlive(info.pid)).toBe(false);
    expect(run.output()).toMatch(/\[v1 \d+\] drained/);
  });
});
