/**
 * Issue 10: "Tenant PostgreSQL connections do not require TLS." Against the TLS PostgreSQL fixture
 * (Aurora-like: TLS only, scram-sha-256, a CREATEDB CREATEROLE admin that is not a superuser), the
 * cloud path provisions a tenant database whose login says `sslmode=verify-full`; the generated app,
 * given the tenant's variables as ECS gives them, connects over TLS and verifies the server against
 * the CA in NODE_EXTRA_CA_CERTS. Without TLS, or without that CA, it gets nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { platformConfig } from '../../cloud/cloud-ports.js';
import { planMigration } from '../../lambdas/app-definition/migration-plan.js';
import { applyMigrations } from '../../lambdas/deploy/apply-migrations.js';
import { parseProvisionRequest, planTenant } from '../../lambdas/domain/tenant-plan.js';
import type { PlatformConfig } from '../../lambdas/ports/index.js';
import { computeSpecFor } from '../../lambdas/provision/tenant-compute.js';
import { ensureTenantDatabase, removeTenantDatabase, tenantSslMode } from '../../lambdas/provision/tenant-database.js';
import { requiresTls } from '../../local/control-plane.js';
import { PgSql } from '../../local/adapters/pg-sql.js';
import { createTestCertificates, type TestCertificates } from '../../rehearsal/emulators/test-certificates.js';
import { startTlsPostgres, type TlsPostgres } from '../../rehearsal/emulators/tls-postgres.js';
import { bookshop, call, killAllApps, startApp, writeRelease, type ReleaseDir } from '../codegen/support/app-process.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { uniqueEnvironment } from '../support/services.js';

const environment = uniqueEnvironment('td');
const plan = planTenant(parseProvisionRequest({ tenantId: 'acme' }), environment, 'c1');

describe('tenant database over TLS (Aurora-like PostgreSQL: hostssl only, non-superuser admin)', () => {
  const secrets = new MemorySecrets();
  let certificates: TestCertificates;
  let server: TlsPostgres;
  let sql: PgSql;
  let release: ReleaseDir;
  /** The tenant's variables, read from its secret as ECS (or the local compute) reads them. */
  let tenantEnv: Record<string, string>;

  beforeAll(async () => {
    certificates = await createTestCertificates();
    server = await startTlsPostgres({ certificates });
    sql = new PgSql({ connectionString: server.adminUrl, defaultDatabase: 'postgres' });
    release = await writeRelease(bookshop());

    // The cloud world's platform config, from the variables the stack gives a provisioning Lambda.
    const config = platformConfig({
      HOSTPLANE_ENVIRONMENT: environment,
      HOSTPLANE_CELLS: JSON.stringify([{ cell: 'c1', maxTenants: 10 }]),
      HOSTPLANE_DATABASE_HOST: server.host,
      HOSTPLANE_DATABASE_PORT: String(server.port),
    });
    await ensureTenantDatabase(plan, sql, secrets, config);
    const definition = bookshop();
    await applyMigrations(sql, secrets, plan.names, planMigration(null, definition, { allowDestructive: false }), { definition });

    tenantEnv = {};
    for (const variable of computeSpecFor(plan).secretEnvironment) {
      const value = (await secrets.get(variable.secretName))?.[variable.key];
      if (value !== undefined) tenantEnv[variable.name] = value;
    }
  });

  afterAll(async () => {
    await killAllApps();
    if (sql) {
      await sql.close(plan.names.database);
      await removeTenantDatabase(plan.names, sql, secrets).catch(() => undefined);
      await sql.close();
    }
    await release?.remove();
    await server?.stop();
    await certificates?.remove();
  });

  it('gives the tenant a login that requires TLS with full verification (PGSSLMODE=verify-full)', () => {
    expect(tenantEnv).toMatchObject({ PGHOST: server.host, PGPORT: String(server.port), PGDATABASE: plan.names.database, PGUSER: plan.names.role });
    expect(tenantEnv.PGSSLMODE).toBe('verify-full');
  });

  it("serves the tenant's app over a verified TLS connection, trusting the CA in NODE_EXTRA_CA_CERTS", async () => {
    const { url } = await startApp(release, { ...tenantEnv, NODE_EXTRA_CA_CERTS: server.caFile });

    expect(await call(url, 'POST', '/api/book', { title: 'Dune' })).toMatchObject({ status: 201 });
    expect(await call(url, 'GET', '/api/book?title=Dune')).toMatchObject({ status: 200, body: { items: [expect.objectContaining({ title: 'Dune' })] } });

    const sessions = await sql.query<{ ssl: boolean }>(
      `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = :role AND a.application_name = 'hostplane-app'`,
      { role: plan.names.role },
    );
    expect(sessions.rows.length).toBeGreaterThan(0);
    expect(sessions.rows.every((row) => row.ssl)).toBe(true);
  });

  it("fails the app's reads when the server's CA is not trusted (the certificate is verified)", async () => {
    const { app, url } = await startApp(release, tenantEnv);

    const answer = await call(url, 'GET', '/api/book');
    expect(answer.status).toBeGreaterThanOrEqual(500);
    expect(app.output()).toMatch(/unable to verify the first certificate/);
    await app.stop();
  });

  it('refuses a connection without TLS, with the right password (hostssl only)', async () => {
    const { url } = await startApp(release, { ...tenantEnv, PGSSLMODE: 'disable', NODE_EXTRA_CA_CERTS: server.caFile });
    expect((await call(url, 'GET', '/api/book')).status).toBe(503);

    const plain = new pg.Client({
      host: server.host,
      port: server.port,
      database: plan.names.database,
      user: plan.names.role,
      password: tenantEnv.PGPASSWORD,
      ssl: false,
    });
    await expect(plain.connect()).rejects.toThrow(/no encryption/);
  });
});

describe('the TLS decision belongs to the world, not the domain', () => {
  const local: PlatformConfig = { environment: 'dev', cells: [], databaseEndpoint: { host: '127.0.0.1', port: 5432 } };

  it('gives tenants sslmode=disable where the database speaks no TLS (the local world by default)', () => {
    expect(tenantSslMode(local)).toBe('disable');
    expect(tenantSslMode({ ...local, databaseEndpoint: { ...local.databaseEndpoint, tls: true } })).toBe('verify-full');
  });

  it('reads whether the local admin URL insists on TLS', () => {
    expect(requiresTls(new URL('postgres://postgres@127.0.0.1:5432/postgres'))).toBe(false);
    expect(requiresTls(new URL('postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'))).toBe(false);
    expect(requiresTls(new URL('postgres://postgres@127.0.0.1:5432/postgres?sslmode=verify-full&sslrootcert=/ca.pem'))).toBe(true);
  });
});
