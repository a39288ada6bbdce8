/**
 * A Redis that behaves like the cell's ElastiCache (Valkey, encryption in transit, RBAC): Debian's
 * `redis-server` on a free loopback port, TLS only (`port 0`), no persistence, the `default` user
 * off, and an admin user with a password. Clients must trust `caFile` and log in as a named user.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCertificates, type TestCertificates, type TlsServerFixture } from './test-certificates.js';
import { freeLoopbackPort, waitFor } from './free-port.js';

export interface TlsRedis extends TlsServerFixture {
  /** `rediss://<admin>:<password>@127.0.0.1:<port>`. */
  readonly adminUrl: string;
}

export interface TlsRedisOptions {
  /** Certificates to serve; by default a fresh set, removed by `stop`. */
  readonly certificates?: TestCertificates;
  /** @default 'hostplane-admin' */
  readonly adminUser?: string;
  /** How long starting may take. @default 15000 */
  readonly startTimeoutMs?: number;
  /** @default 'redis-server' (Debian's, on PATH) */
  readonly binary?: string;
}

const HOST = '127.0.0.1';
const ATTEMPTS = 3;

/** Starts the server and resolves once it accepts TLS connections. */
export async function startTlsRedis(options: TlsRedisOptions = {}): Promise<TlsRedis> {
  const ownCertificates = options.certificates === undefined;
  const certificates = options.certificates ?? (await createTestCertificates());
  const dir = await mkdtemp(join(tmpdir(), 'hostplane-tls-redis-'));
  const adminUser = options.adminUser ?? 'hostplane-admin';
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(adminUser)) throw new Error(`tls redis: ${JSON.stringify(adminUser)} is not a user name`);
  const adminPassword = randomBytes(24).toString('hex');
  const cleanUp = async () => {
    await rm(dir, { recursive: true, force: true });
    if (ownCertificates) await certificates.remove();
  };

  let lastFailure = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const port = await freeLoopbackPort();
    const configFile = join(dir, 'redis.conf');
    await writeFile(configFile, redisConfig({ port, dir, certificates, adminUser, adminPassword }), { mode: 0o600 });
    const server = spawn(options.binary ?? 'redis-server', [configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killOnExit = () => server.kill('SIGKILL');
    process.once('exit', killOnExit);
    let output = '';
    server.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    server.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<void>((resolve) => server.once('close', () => resolve()));
    const stopServer = async () => {
      process.off('exit', killOnExit);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      await exited;
    };
    try {
      await waitFor(
        async () => {
          if (server.exitCode !== null || server.signalCode !== null) throw new Error(`redis-server exited early:\n${output}`);
          return output.includes('Ready to accept connections');
        },
        options.startTimeoutMs ?? 15_000,
        () => new Error(`tls redis: not ready within ${options.startTimeoutMs ?? 15_000} ms:\n${output}`),
      );
    } catch (error) {
      await stopServer();
      lastFailure = error instanceof Error ? error.message : String(error);
      // Another process took the port between our check and the bind: try another one.
      if (/Address already in use/i.test(output) && attempt < ATTEMPTS) continue;
      await cleanUp();
      throw new Error(lastFailure, { cause: error });
    }
    let stopping: Promise<void> | undefined;
    return {
      host: HOST,
      port,
      adminUser,
      adminPassword,
      adminUrl: `rediss://${adminUser}:${adminPassword}@${HOST}:${port}`,
      caFile: certificates.caFile,
      stop: () => (stopping ??= stopServer().then(cleanUp)),
    };
  }
  await cleanUp();
  throw new Error(`tls redis: could not start after ${ATTEMPTS} attempts: ${lastFailure}`);
}

/**
 * The server's configuration: TLS only, no client certificates (as ElastiCache), nothing on disk,
 * RBAC with `default` off (as the cell's user group: `off -@all`) and one admin for setting up users.
 */
function redisConfig(settings: { port: number; dir: string; certificates: TestCertificates; adminUser: string; adminPassword: string }): string {
  const { port, dir, certificates, adminUser, adminPassword } = settings;
  return [
    `bind ${HOST}`,
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${certificates.certFile}`,
    `tls-key-file ${certificates.keyFile}`,
    `tls-ca-cert-file ${certificates.caFile}`,
    'tls-auth-clients no',
    'save ""',
    'appendonly no',
    `dir ${dir}`,
    'daemonize no',
    'logfile ""',
    'user default off resetpass resetkeys resetchannels -@all',
    `user ${adminUser} on >${adminPassword} ~* &* +@all`,
    '',
  ].join('\n');
}
