import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { parseAppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { backupTenant } from '../../lambdas/backup/backup-tenant.js';
import { restoreTenant } from '../../lambdas/backup/restore-tenant.js';
import { applyMigrations } from '../../lambdas/deploy/apply-migrations.js';
import { planTenantMigration } from '../../lambdas/deploy/tenant-schema.js';
import { parseProvisionRequest, planTenant, type TenantPlan } from '../../lambdas/domain/tenant-plan.js';
import type { PlatformConfig } from '../../lambdas/ports/index.js';
import { ensureTenantDatabase, removeTenantDatabase } from '../../lambdas/provision/tenant-database.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../local/embedded-database.js';
import { FolderBackupStore } from '../../local/adapters/folder-backup-store.js';
import { PgSql } from '../../local/adapters/pg-sql.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pollUntil } from '../support/poll.js';
import { TEST_DATABASE_URL, uniqueEnvironment } from '../support/services.js';

/**
 * The database boundary (docs/security.md, ADR 0009): nothing a tenant's login creates ever runs
 * with any rights but the tenant's, whatever the platform does in the tenant's database (deploy,
 * backup, restore), on PostgreSQL 15 (the machine's) and 18 (embedded). The platform's admin is a
 * superuser on both, so a probe that ever ran as the admin could read pg_authid and run a program.
 */

/** v1 leaves `title` optional; v2 makes it required with a default, so the deploy fills the empty ones (an UPDATE of the tenant's rows). */
const v1 = parseAppDefinition({ name: 'Notes', entities: [{ name: 'note', fields: [{ name: 'title', type: 'string' }] }] });
const v2 = parseAppDefinition({
  name: 'Notes',
  entities: [{ name: 'note', fields: [{ name: 'title', type: 'string', required: true, default: 'untitled' }] }],
});

/** What each probe reports (by NOTIFY, which outlives the tables a restore drops). */
interface ProbeReport {
  readonly label: string;
  readonly ranAs: string;
  readonly session: string;
  /** `current_user` after the probe tried `RESET ROLE` (the way out of `SET ROLE` on an admin's session). */
  readonly afterReset: string;
  /** Privileged actions that worked. */
  readonly gained: string[];
}

/**
 * The tenant's contraption, made on its own login: a probe that tries to become the admin and use
 * the admin's rights, fired by a plain trigger on the entity table, a deferred constraint trigger
 * on a side table that trigger feeds, a column default, a rule, a row-level security policy, and
 * functions that shadow built-ins the platform calls.
 */
function contraption(marker: string): string[] {
  return [
    `CREATE FUNCTION app.probe(label text) RETURNS void LANGUAGE plpgsql AS $$
     DECLARE
       ran_as text := current_user;
       gained text[] := '{}';
     BEGIN
       BEGIN RESET ROLE; EXCEPTION WHEN OTHERS THEN NULL; END;
       BEGIN PERFORM rolpassword FROM pg_catalog.pg_authid LIMIT 1; gained := gained || 'pg_authid'::text; EXCEPTION WHEN OTHERS THEN NULL; END;
       BEGIN EXECUTE pg_catalog.format('COPY (SELECT 1) TO PROGRAM %L', 'touch ${marker}'); gained := gained || 'program'::text; EXCEPTION WHEN OTHERS THEN NULL; END;
       BEGIN EXECUTE 'CREATE ROLE ${marker.split('/').pop()} SUPERUSER'; gained := gained || 'create_role'::text; EXCEPTION WHEN OTHERS THEN NULL; END;
       PERFORM pg_catalog.pg_notify('hp_probe', pg_catalog.json_build_object(
         'label', label, 'ranAs', ran_as, 'session', session_user, 'afterReset', current_user, 'gained', gained)::text);
     END $$`,
    `CREATE FUNCTION app.probe_text(label text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN PERFORM app.probe(label); RETURN label; END $$`,
    `CREATE FUNCTION app.probe_bool(label text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM app.probe(label); RETURN true; END $$`,
    `CREATE TABLE app.side (note_id bigint, stamp text DEFAULT app.probe_text('default'))`,
    `CREATE FUNCTION app.feed() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM app.probe('trigger'); INSERT INTO app.side (note_id) VALUES (NEW.id); RETURN NULL; END $$`,
    `CREATE TRIGGER note_feeds_side AFTER UPDATE ON app.note FOR EACH ROW EXECUTE FUNCTION app.feed()`,
    `CREATE FUNCTION app.at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM app.probe('deferred'); RETURN NULL; END $$`,
    `CREATE CONSTRAINT TRIGGER side_at_commit AFTER INSERT ON app.side DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app.at_commit()`,
    `CREATE RULE note_rule AS ON UPDATE TO app.note DO ALSO SELECT app.probe('rule')`,
    `ALTER TABLE app.note ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE app.note FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY note_policy ON app.note USING (app.probe_bool('policy')) WITH CHECK (true)`,
    // Shadows of built-ins the platform calls: they may only ever run where `app` is on the path, the tenant's own sessions.
    `CREATE FUNCTION app.pg_advisory_xact_lock(bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM app.probe('shadow'); END $$`,
    `CREATE FUNCTION app.to_json(anyelement) RETURNS json LANGUAGE plpgsql AS $$ BEGIN PERFORM app.probe('shadow'); RETURN pg_catalog.to_json($1); END $$`,
    `CREATE FUNCTION app.setval(regclass, bigint, boolean) RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN PERFORM app.probe('shadow'); RETURN pg_catalog.setval($1, $2, $3); END $$`,
    `INSERT INTO app.note (title) VALUES (NULL), ('kept')`,
  ];
}

interface Server {
  readonly name: string;
  start(): Promise<{ adminUrl: string; stop(): Promise<void> }>;
}

const servers: Server[] = [
  { name: "PostgreSQL 15 (the machine's)", start: async () => ({ adminUrl: TEST_DATABASE_URL, stop: async () => undefined }) },
  {
    name: 'PostgreSQL 18 (embedded)',
    start: async () => {
      // As root the embedded server runs as the `postgres` user: the folder must be reachable by others.
      const stateDir = await mkdtemp(join(tmpdir(), 'hp-security-pg18-'));
      await chmod(stateDir, 0o755);
      let database: EmbeddedDatabase;
      try {
        database = await startEmbeddedDatabase(stateDir);
      } catch (error) {
        await rm(stateDir, { recursive: true, force: true });
        throw error;
      }
      return {
        adminUrl: database.connectionString,
        stop: async () => {
          await database.stop();
          await rm(stateDir, { recursive: true, force: true });
        },
      };
    },
  },
];

describe.each(servers)('a tenant login on $name', (server) => {
  const environment = uniqueEnvironment('sec');
  const secrets = new MemorySecrets();
  const marker = join(tmpdir(), `hp_probe_${randomBytes(6).toString('hex')}`);
  const reports: ProbeReport[] = [];
  let stop: (() => Promise<void>) | undefined;
  let adminUrl: string;
  let sql: PgSql;
  let tenant: TenantPlan;
  let listener: pg.Client | undefined;
  let backupDir: string;

  /** A client on the tenant's database, signed in as the tenant (its secret), as the tenant's app would be. */
  const tenantClient = async (): Promise<pg.Client> => {
    const secret = (await secrets.get(tenant.names.databaseSecret))!;
    const url = new URL(adminUrl);
    const client = new pg.Client({ host: url.hostname, port: Number(url.port), user: secret.username, password: secret.password, database: secret.dbname });
    await client.connect();
    return client;
  };
  const labels = () => new Set(reports.map((report) => report.label));

  beforeAll(async () => {
    const started = await server.start();
    stop = started.stop;
    adminUrl = started.adminUrl;
    sql = new PgSql({ connectionString: adminUrl, defaultDatabase: 'postgres' });
    const url = new URL(adminUrl);
    const config: PlatformConfig = { environment, cells: [], databaseEndpoint: { host: url.hostname, port: Number(url.port) } };
    tenant = planTenant(parseProvisionRequest({ tenantId: 'mallory' }), environment, 'local');
    await ensureTenantDatabase(tenant, sql, secrets, config);
    await applyMigrations(sql, secrets, tenant.names, await planTenantMigration(sql, tenant.names, v1, { allowDestructive: false }), { definition: v1 });

    const client = await tenantClient();
    try {
      for (const statement of contraption(marker)) await client.query(statement);
    } finally {
      await client.end();
    }
    const listenUrl = new URL(adminUrl);
    listenUrl.pathname = `/${tenant.names.database}`;
    listener = new pg.Client({ connectionString: listenUrl.toString() });
    await listener.connect();
    listener.on('notification', (message) => reports.push(JSON.parse(message.payload ?? '{}') as ProbeReport));
    await listener.query('LISTEN hp_probe');
    backupDir = await mkdtemp(join(tmpdir(), 'hp-security-backups-'));
  }, 120_000);

  afterAll(async () => {
    await listener?.end().catch(() => undefined);
    if (sql && tenant) {
      await sql.close();
      await removeTenantDatabase(tenant.names, sql, secrets).catch(() => undefined);
      await sql.query(`DROP ROLE IF EXISTS ${marker.split('/').pop()}`).catch(() => undefined);
      await sql.close();
    }
    if (backupDir) await rm(backupDir, { recursive: true, force: true });
    await rm(marker, { force: true });
    await stop?.();
  }, 60_000);

  it('runs a deploy that fills empty fields without the tenant’s triggers, rules, defaults or policies ever running as the admin', async () => {
    const plan = await planTenantMigration(sql, tenant.names, v2, { allowDestructive: false });
    expect(plan.steps.map((step) => step.summary).join('\n')).toMatch(/empty|fill|default/i);

    await applyMigrations(sql, secrets, tenant.names, plan, { definition: v2 });

    // The contraption did fire (so the test tests something): the deferred trigger at COMMIT included.
    await pollUntil(() => (['trigger', 'deferred', 'rule', 'default', 'policy'].every((label) => labels().has(label)) ? true : undefined), {
      timeoutMs: 10_000,
      what: `every probe of the deploy to report (seen: ${[...labels()].join(', ')})`,
    });
    const client = await tenantClient();
    try {
      const { rows } = await client.query<{ title: string }>('SELECT title FROM app.note ORDER BY id');
      expect(rows.map((row) => row.title)).toEqual(['untitled', 'kept']);
    } finally {
      await client.end();
    }
    expectOnlyEverTheTenant();
  }, 60_000);

  it('backs up through the tenant’s policy and shadowing functions without them ever running as the admin', async () => {
    const before = reports.length;
    const store = new FolderBackupStore(backupDir);

    const manifest = await backupTenant({ sql, secrets, store, names: tenant.names, tenantId: 'mallory', backupId: 'bk-1', prefix: `${environment}/mallory/bk-1`, reason: 'manual' });

    expect(manifest.entities.map((entity) => entity.rows)).toEqual([2]);
    await pollUntil(() => (reports.slice(before).some((report) => report.label === 'policy') ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the policy probe to report from the backup',
    });
    expectOnlyEverTheTenant();
  }, 60_000);

  it('restores over the contraption without any of it running as the admin, and leaves none of it behind', async () => {
    const store = new FolderBackupStore(backupDir);

    const result = await restoreTenant({ sql, store, names: tenant.names, prefix: `${environment}/mallory/bk-1` });

    expect(result.entities).toEqual([{ entity: 'note', rows: 2 }]);
    const { rows } = await sql.query<{ name: string }>(
      `SELECT p.proname AS name FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'app'
       UNION ALL SELECT r.rulename FROM pg_catalog.pg_rules r WHERE r.schemaname = 'app'
       UNION ALL SELECT t.tgname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'`,
      {},
      { database: tenant.names.database },
    );
    expect(rows.filter((row) => !/^RI_ConstraintTrigger/.test(row.name))).toEqual([]);
    expectOnlyEverTheTenant();
  }, 60_000);

  function expectOnlyEverTheTenant(): void {
    const role = tenant.names.role;
    expect(reports.length).toBeGreaterThan(0);
    for (const report of reports) {
      expect({ label: report.label, ranAs: report.ranAs, session: report.session, afterReset: report.afterReset, gained: report.gained }).toEqual({
        label: report.label,
        ranAs: role,
        session: role,
        afterReset: role,
        gained: [],
      });
    }
    expect(existsSync(marker)).toBe(false);
  }
});
