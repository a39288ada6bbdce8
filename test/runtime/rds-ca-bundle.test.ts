/**
 * The tenant image trusts the RDS CAs (NODE_EXTRA_CA_CERTS), so tenant apps verify Aurora's
 * certificate with PGSSLMODE=verify-full. The bundle is built as the Dockerfile builds it (esbuild,
 * then node), and Node loads every certificate of it.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { RDS_CA_BUNDLE_PATH, rdsCaBundle } from '../../runtime/reloader/rds-ca-bundle.js';

const run = promisify(execFile);
const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

function certificatesOf(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));
}

describe('the RDS CA bundle of the tenant image', () => {
  let dir: string;
  let written: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostplane-rds-ca-'));
    const script = join(dir, 'rds-ca-bundle.mjs');
    await build({
      entryPoints: [join(repositoryRoot, 'runtime/reloader/rds-ca-bundle.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: script,
      logLevel: 'warning',
    });
    written = join(dir, 'rds-ca-bundle.pem');
    await run(process.execPath, [script, written]);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the RDS root CAs Aurora certificates chain to, in every flavour, and only CA certificates', async () => {
    const certificates = certificatesOf(await readFile(written, 'utf8'));
    expect(await readFile(written, 'utf8')).toBe(rdsCaBundle());
    expect(certificates.length).toBeGreaterThan(100);
    expect(certificates.every((certificate) => certificate.ca)).toBe(true);
    const subjects = certificates.map((certificate) => certificate.subject);
    for (const region of ['us-east-1', 'eu-west-1', 'ap-southeast-2']) {
      for (const flavour of ['RSA2048 G1', 'RSA4096 G1', 'ECC384 G1']) {
        expect(subjects).toContainEqual(expect.stringContaining(`CN=Amazon RDS ${region} Root CA ${flavour}`));
      }
    }
  });

  it('is loaded whole by Node through NODE_EXTRA_CA_CERTS', async () => {
    const { stderr } = await run(process.execPath, ['-e', 'require("node:tls").createSecureContext()'], {
      env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: written },
    });
    expect(stderr).not.toMatch(/Ignoring extra certs|Warning/);
  });

  it('is where the Dockerfile points NODE_EXTRA_CA_CERTS', () => {
    const dockerfile = readFileSync(join(repositoryRoot, 'runtime/reloader/Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`NODE_EXTRA_CA_CERTS=${RDS_CA_BUNDLE_PATH}`);
    expect(dockerfile).toMatch(new RegExp(`COPY --from=build /build/dist/rds-ca-bundle\\.pem \\./rds-ca-bundle\\.pem`));
    expect(dockerfile).toContain('WORKDIR /opt/hostplane');
  });
});
