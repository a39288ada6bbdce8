/**
 * A throwaway certificate authority and one server certificate it signed, for `localhost` and
 * `127.0.0.1`, made with the `openssl` CLI in a fresh temporary folder. Whoever trusts `caFile`
 * (`NODE_EXTRA_CA_CERTS`, `ssl.ca`, `tls.ca`, `sslrootcert`) verifies the TLS fixtures in this folder
 * as a client verifies Aurora's or ElastiCache's certificate: chain and host name both.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throwaway server that speaks TLS only, with an admin login (the TLS Redis and PostgreSQL fixtures). */
export interface TlsServerFixture {
  readonly host: string;
  /** The TLS port (the only one it listens on). */
  readonly port: number;
  readonly adminUser: string;
  readonly adminPassword: string;
  /** The admin's URL; the client must trust `caFile`. */
  readonly adminUrl: string;
  /** The CA that signed the server's certificate. */
  readonly caFile: string;
  /** Stops the server and removes its folder (and the certificates, if it made them). Safe to call more than once. */
  stop(): Promise<void>;
}

export interface TestCertificates {
  /** The folder holding every file below (mode 0700). */
  readonly dir: string;
  /** The CA's certificate (PEM): what a client trusts. */
  readonly caFile: string;
  /** The server's certificate (PEM), with subjectAltName DNS:localhost and IP:127.0.0.1. */
  readonly certFile: string;
  /** The server's private key (PEM, unencrypted). */
  readonly keyFile: string;
  /** Deletes the folder. Safe to call more than once. */
  remove(): Promise<void>;
}

export interface TestCertificatesOptions {
  /** Host names and IP addresses the server certificate is valid for. @default ['localhost', '127.0.0.1'] */
  readonly hosts?: readonly string[];
  /** How long both certificates are valid. @default 2 */
  readonly days?: number;
}

const IP_ADDRESS = /^(?:\d{1,3}\.){3}\d{1,3}$|:/;

/** Makes a CA and a server certificate (P-256 keys: quick to make, accepted by PostgreSQL, Redis and Node). */
export async function createTestCertificates(options: TestCertificatesOptions = {}): Promise<TestCertificates> {
  const hosts = options.hosts ?? ['localhost', '127.0.0.1'];
  const days = String(options.days ?? 2);
  for (const host of hosts) {
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new Error(`test certificates: ${JSON.stringify(host)} is not a host name or IP address`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'hostplane-certs-'));
  const file = (name: string) => join(dir, name);
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await openssl(
      ['req', '-x509', ...key, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', days, '-subj', '/CN=Hostplane throwaway test CA'],
      ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    );
    await openssl(['req', ...key, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', `/CN=${hosts[0] ?? 'localhost'}`]);
    const altNames = hosts.map((host) => (IP_ADDRESS.test(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
    await writeFile(
      file('server.ext'),
      [`subjectAltName=${altNames}`, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', ''].join('\n'),
    );
    await openssl([
      'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-out', file('server.crt'), '-days', days, '-extfile', file('server.ext'),
    ]);
    // The CA's key is of no further use: nothing else gets signed by it.
    await rm(file('ca.key'));
  } catch (error) {
    await remove();
    throw error;
  }
  return { dir, caFile: file('ca.crt'), certFile: file('server.crt'), keyFile: file('server.key'), remove };
}

async function openssl(...args: string[][]): Promise<void> {
  try {
    await run('openssl', args.flat(), { timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args.flat()[0]} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
}
