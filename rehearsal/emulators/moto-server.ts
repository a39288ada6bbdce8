/**
 * moto's server mode (AWS APIs over HTTP, one process for every service) on loopback, for tests
 * and the cloud rehearsal. moto comes from the repository's own virtual environment
 * (`.venv/`, pinned in requirements-dev.txt, installed by `.ci/run`).
 *
 *   const moto = await startMotoServer();
 *   const s3 = new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, ...MOTO_CLIENT_SETTINGS });
 *   …
 *   await moto.stop();
 *
 * moto evaluates S3 bucket policies, `aws:SecureTransport` included: against a bucket whose policy
 * denies plain HTTP (every tenant asset bucket's does), start it with `tls` (a certificate for
 * 127.0.0.1, e.g. from `createTestCertificates`) and give the client an agent that trusts its CA.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: this file is `rehearsal/emulators/moto-server.ts`. */
const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MOTO_SERVER_PATH = join(REPOSITORY_ROOT, '.venv', 'bin', 'moto_server');

/** What an SDK client needs besides the endpoint: any region, fake credentials (moto checks no signature). */
export const MOTO_CLIENT_SETTINGS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
} as const;

export interface MotoServer {
  /** `http://127.0.0.1:<port>`, or `https://…` with `tls` */
  readonly endpoint: string;
  readonly port: number;
  /** Stops the server and resolves once its process has exited. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartMotoServerOptions {
  /** How long the server may take to answer (a cold start of moto takes a few seconds). @default 30_000 */
  readonly timeoutMs?: number;
  /**
   * Serve HTTPS with this certificate (valid for 127.0.0.1); `caFile` is what the readiness check trusts.
   * @default - plain HTTP
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
}

const LISTENING = /Running on https?:\/\/127\.0\.0\.1:(\d+)/;

/** Starts `moto_server` on 127.0.0.1 and a free port, and resolves once it answers HTTP. */
export async function startMotoServer({ timeoutMs = 30_000, tls }: StartMotoServerOptions = {}): Promise<MotoServer> {
  if (!existsSync(MOTO_SERVER_PATH)) {
    throw new Error(
      `moto is not installed: ${MOTO_SERVER_PATH} is missing. Install the pinned Python tools with ` +
        '`python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt` (what .ci/run does).',
    );
  }
  // Port 0: the server picks a free port and says which (unbuffered, so it says so at once).
  const tlsArguments = tls ? ['--ssl-cert', tls.certFile, '--ssl-key', tls.keyFile] : [];
  const child = spawn(MOTO_SERVER_PATH, ['-H', '127.0.0.1', '-p', '0', ...tlsArguments], {
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    // No pid: it never started (a spawn error), so there is nothing to stop and no exit to wait for.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
  };
  try {
    const port = await listeningPort(child, timeoutMs);
    const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    await waitUntilAnswering(endpoint, tls ? readFileSync(tls.caFile) : undefined, Date.now() + timeoutMs);
    return { endpoint, port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The port moto says it listens on, read from its output. */
function listeningPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`moto_server did not say where it listens within ${timeoutMs} ms; its output: ${output.slice(-2_000)}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const port = LISTENING.exec(output)?.[1];
      if (port !== undefined) done(() => resolve(Number(port)));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(new Error(`moto_server exited (${signal ?? `code ${code}`}) before listening; its output: ${output.slice(-2_000)}`));
    const done = (settle: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining its output so the pipes never fill and block it.
      child.stdout?.resume();
      child.stderr?.resume();
      settle();
    };
    const fail = (error: Error): void => done(() => reject(error));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (error) => fail(new Error(`moto_server could not start: ${error.message}`)));
  });
}

/** Polls the server's own API until it answers (any HTTP status will do), or fails at the deadline. */
async function waitUntilAnswering(endpoint: string, ca: Buffer | undefined, deadline: number): Promise<void> {
  for (;;) {
    let last: string;
    try {
      await answers(`${endpoint}/moto-api/`, ca);
      return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`moto_server at ${endpoint} did not answer before the deadline (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One GET, its body read and its connection closed; rejects when nothing answers (or the certificate is not trusted). */
function answers(url: string, ca: Buffer | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const options = { headers: { connection: 'close' }, timeout: 2_000 };
    const request = ca ? httpsRequest(url, { ...options, ca }) : httpRequest(url, options);
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve());
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 2 s')));
    request.on('error', reject);
    request.end();
  });
}
