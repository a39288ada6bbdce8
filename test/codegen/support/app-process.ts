import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAppDefinition, type AppDefinition } from '../../../lambdas/app-definition/app-definition-schema.js';
import { compileApp, type CompiledApp } from '../../../lambdas/codegen/compile-app.js';
import { generateApp } from '../../../lambdas/codegen/generate-app.js';
import { pollUntil } from '../../support/poll.js';

export function bookshop(): AppDefinition {
  return parseAppDefinition(readFileSync(new URL('../../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8'));
}

/** A compiled release written to a fresh temporary folder (outside this package: no node_modules to lean on). */
export interface ReleaseDir {
  readonly dir: string;
  readonly compiled: CompiledApp;
  remove(): Promise<void>;
}

export async function writeRelease(definition: AppDefinition): Promise<ReleaseDir> {
  const compiled = await compileApp(generateApp(definition));
  const dir = await mkdtemp(join(tmpdir(), 'hostplane-codegen-'));
  for (const [path, content] of Object.entries(compiled.files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return { dir, compiled, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface AppProcess {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM (drain) by default; resolves once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<ExitInfo>;
}

const running = new Set<AppProcess>();

/** Starts `node server.mjs` of a release, with only the given environment (and PATH). */
export function spawnApp(release: ReleaseDir, env: Readonly<Record<string, string>>, extraStdio: StdioOptions = []): AppProcess {
  const stdio = ['ignore', 'pipe', 'pipe', ...(Array.isArray(extraStdio) ? extraStdio : [])] as StdioOptions;
  const child = spawn(process.execPath, [join(release.dir, 'server.mjs')], {
    cwd: release.dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio,
  });
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const app: AppProcess = {
    child,
    output: () => text,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.add(app);
  void exited.then(() => running.delete(app));
  return app;
}

/** Waits for the line the app prints once it serves; fails with its output if it exits first. */
export async function waitForServing(app: AppProcess, timeoutMs = 15_000): Promise<string> {
  let gone: ExitInfo | undefined;
  void app.exited.then((exit) => (gone = exit));
  return pollUntil(
    () => {
      const match = /serving on (\S+)/.exec(app.output());
      if (match) return match[1]!;
      if (gone) throw new Error(`the app exited (${JSON.stringify(gone)}) before serving:\n${app.output()}`);
      return undefined;
    },
    { timeoutMs, what: `the app to serve; output so far:\n${app.output()}` },
  );
}

/** Starts the app on PORT=0 and returns its base URL. */
export async function startApp(release: ReleaseDir, env: Readonly<Record<string, string>>): Promise<{ app: AppProcess; url: string }> {
  const app = spawnApp(release, { PORT: '0', ...env });
  const url = await waitForServing(app);
  return { app, url };
}

/** Kills every app process still running (tests call it in afterAll, so nothing outlives a failure). */
export async function killAllApps(): Promise<void> {
  await Promise.all([...running].map((app) => app.stop('SIGKILL')));
}

export interface JsonAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** One HTTP exchange with a JSON (or empty) answer. */
export async function call(url: string, method: string, path: string, body?: unknown): Promise<JsonAnswer> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const response = await fetch(url + path, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}
