/**
 * A throwaway PostgreSQL 15 cluster that behaves like the cell's Aurora with `rds.force_ssl = 1`:
 * initdb'd from Debian's binaries into a temporary folder, listening on a free loopback port,
 * `ssl = on` with the test certificates, pg_hba allowing TCP only over TLS with scram-sha-256
 * (plus the local socket, for setting up as `postgres`), and an admin role like Aurora's master
 * user: LOGIN CREATEDB CREATEROLE, not a superuser, with a password.
 *
 * Run as root (as the tests and CI are), initdb and pg_ctl run as the `postgres` OS user, which
 * owns the folder; run as anyone else, they run as that user.
 */
import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { appendFile, chmod, chown, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createTestCertificates, type TestCertificates, type TlsServerFixture } from './test-certificates.js';
import { freeLoopbackPort } from './free-port.js';

const run = promisify(execFile);

export interface TlsPostgres extends TlsServerFixture {
  /** The Aurora-like admin: LOGIN CREATEDB CREATEROLE, NOSUPERUSER. */
  readonly adminUser: string;
  /** `postgres://<admin>:<password>@127.0.0.1:<port>/postgres?sslmode=verify-full&sslrootcert=<caFile>`. */
  readonly adminUrl: string;
}

export interface TlsPostgresOptions {
  /** Certificates to serve; by default a fresh set, removed by `stop`. */
  readonly certificates?: TestCertificates;
  /** @default 'hostplane_admin' (the cell's admin login, lib/cell/cell-database.ts) */
  readonly adminUser?: string;
  /** Where initdb, pg_ctl and postgres are. @default /usr/lib/postgresql/15/bin */
  readonly binDir?: string;
  /** How long pg_ctl may wait for the server to start. @default 30 */
  readonly startTimeoutSeconds?: number;
}

const HOST = '127.0.0.1';
const ATTEMPTS = 3;
const POSTGRES_OS_USER = 'postgres';

/** Creates the cluster, starts it and creates the admin role; resolves once it accepts TLS logins. */
export async function startTlsPostgres(options: TlsPostgresOptions = {}): Promise<TlsPostgres> {
  const binDir = options.binDir ?? '/usr/lib/postgresql/15/bin';
  const adminUser = options.adminUser ?? 'hostplane_admin';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(adminUser)) throw new Error(`tls postgres: ${JSON.stringify(adminUser)} is not a role name`);
  const adminPassword = randomBytes(24).toString('hex');
  const ownCertificates = options.certificates === undefined;
  const certificates = options.certificates ?? (await createTestCertificates());
  const asRoot = userInfo().uid === 0;
  const superuser = asRoot ? POSTGRES_OS_USER : userInfo().username;

  const base = await mkdtemp(join(tmpdir(), 'hostplane-tls-pg-'));
  const dataDir = join(base, 'data');
  const logFile = join(base, 'server.log');
  /** Runs one of the cluster's binaries as the user that owns the cluster. */
  const asOwner = (binary: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', POSTGRES_OS_USER, '--', join(binDir, binary), ...args]) : run(join(binDir, binary), args);
  const stopServer = () => asOwner('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']).then(() => undefined, () => undefined);
  // If the test process ends without calling stop(), the postmaster (a daemon) must not live on.
  const stopOnExit = () => {
    try {
      const args = ['stop', '-D', dataDir, '-m', 'immediate'];
      if (asRoot) execFileSync('runuser', ['-u', POSTGRES_OS_USER, '--', join(binDir, 'pg_ctl'), ...args], { stdio: 'ignore' });
      else execFileSync(join(binDir, 'pg_ctl'), args, { stdio: 'ignore' });
    } catch {
      // Not running.
    }
    rmSync(base, { recursive: true, force: true });
  };
  const cleanUp = async () => {
    process.off('exit', stopOnExit);
    await stopServer();
    await rm(base, { recursive: true, force: true });
    if (ownCertificates) await certificates.remove();
  };

  let port = 0;
  try {
    if (asRoot) await chown(base, ...(await idsOf(POSTGRES_OS_USER)));
    await asOwner('initdb', ['-D', dataDir, '-U', superuser, '-E', 'UTF8', '--locale=C', '--auth-local=trust', '--auth-host=reject', '--no-instructions']);
    await installCertificates(certificates, dataDir, asRoot);
    await writeFile(join(dataDir, 'pg_hba.conf'), hbaRules(superuser));
    if (asRoot) await chown(join(dataDir, 'pg_hba.conf'), ...(await idsOf(POSTGRES_OS_USER)));

    let lastFailure = '';
    for (let attempt = 1; attempt <= ATTEMPTS && port === 0; attempt++) {
      const candidate = await freeLoopbackPort();
      await appendFile(join(dataDir, 'postgresql.conf'), serverSettings(candidate, base));
      process.once('exit', stopOnExit);
      try {
        await asOwner('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', String(options.startTimeoutSeconds ?? 30)]);
        port = candidate;
      } catch (error) {
        process.off('exit', stopOnExit);
        lastFailure = `${(error as { stderr?: string }).stderr ?? String(error)}\n${await serverLog(logFile)}`;
        // Another process took the port between our check and the bind: the last `port` line wins, so try another.
        if (!/could not bind|Address already in use/i.test(lastFailure)) break;
      }
    }
    if (port === 0) throw new Error(`tls postgres: the server did not start:\n${lastFailure}`);

    await createAdmin({ socketDir: base, port, superuser, adminUser, adminPassword });
  } catch (error) {
    await cleanUp();
    throw error;
  }

  const url = new URL(`postgres://${HOST}:${port}/postgres`);
  url.username = adminUser;
  url.password = adminPassword;
  url.searchParams.set('sslmode', 'verify-full');
  url.searchParams.set('sslrootcert', certificates.caFile);
  let stopping: Promise<void> | undefined;
  return {
    host: HOST,
    port,
    adminUser,
    adminPassword,
    adminUrl: url.toString(),
    caFile: certificates.caFile,
    stop: () => (stopping ??= cleanUp()),
  };
}

/** PostgreSQL reads its key only when the cluster's owner owns it with mode 0600. */
async function installCertificates(certificates: TestCertificates, dataDir: string, asRoot: boolean): Promise<void> {
  const ids = asRoot ? await idsOf(POSTGRES_OS_USER) : undefined;
  for (const [from, to] of [
    [certificates.certFile, 'server.crt'],
    [certificates.keyFile, 'server.key'],
  ] as const) {
    const target = join(dataDir, to);
    await copyFile(from, target);
    await chmod(target, 0o600);
    if (ids) await chown(target, ...ids);
  }
}

/** TCP over TLS with a password only (scram-sha-256), as Aurora with `rds.force_ssl`; the socket for the setup superuser. */
function hbaRules(superuser: string): string {
  return [
    '# TYPE     DATABASE  USER  ADDRESS       METHOD',
    `local      all       ${superuser}  trust`,
    'hostssl    all       all   127.0.0.1/32  scram-sha-256',
    'hostnossl  all       all   0.0.0.0/0     reject',
    'hostnossl  all       all   ::/0          reject',
    '',
  ].join('\n');
}

/** Appended to postgresql.conf; a later `port` line overrides an earlier one. Durability is not wanted: the cluster is thrown away. */
function serverSettings(port: number, socketDir: string): string {
  return [
    '',
    `listen_addresses = '${HOST}'`,
    `port = ${port}`,
    `unix_socket_directories = '${socketDir}'`,
    'ssl = on',
    "ssl_cert_file = 'server.crt'",
    "ssl_key_file = 'server.key'",
    "password_encryption = 'scram-sha-256'",
    'max_connections = 60',
    'shared_buffers = 16MB',
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    '',
  ].join('\n');
}

async function createAdmin(settings: { socketDir: string; port: number; superuser: string; adminUser: string; adminPassword: string }): Promise<void> {
  const client = new pg.Client({ host: settings.socketDir, port: settings.port, user: settings.superuser, database: 'postgres' });
  await client.connect();
  try {
    const password = await client.query<{ literal: string }>('SELECT quote_literal($1::text) AS literal', [settings.adminPassword]);
    await client.query(`CREATE ROLE "${settings.adminUser}" LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD ${password.rows[0]!.literal}`);
  } finally {
    await client.end();
  }
}

async function idsOf(user: string): Promise<[number, number]> {
  const { stdout: uid } = await run('id', ['-u', user]);
  const { stdout: gid } = await run('id', ['-g', user]);
  return [Number(uid.trim()), Number(gid.trim())];
}

async function serverLog(logFile: string): Promise<string> {
  try {
    return (await readFile(logFile, 'utf8')).slice(-4000);
  } catch {
    return '(no server log)';
  }
}
