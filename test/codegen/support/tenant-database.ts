import pg from 'pg';
import type { AppDefinition } from '../../../lambdas/app-definition/app-definition-schema.js';
import { planMigration } from '../../../lambdas/app-definition/migration-plan.js';
import { withAdmin } from '../../support/databases.js';
import { TEST_DATABASE_URL } from '../../support/services.js';

/** A tenant's database as provisioning makes it: its own login role, CONNECT for it alone, an `app` schema it owns. */
export interface TenantDatabase {
  readonly database: string;
  readonly role: string;
  readonly password: string;
  /** DATABASE_URL for the role. */
  readonly url: string;
  /** The same, in the tenant secret's shape (libpq variables). */
  readonly pgEnv: Readonly<Record<string, string>>;
}

/** `name` is both the database's and the role's (plain lowercase letters, digits, underscores). */
export async function createTenantDatabase(name: string): Promise<TenantDatabase> {
  if (!/^[a-z][a-z0-9_]{0,50}$/.test(name)) throw new Error(`unexpected name ${name}`);
  const password = `pw_${Math.random().toString(36).slice(2)}`;
  await withAdmin(undefined, async (client) => {
    await client.query(`CREATE ROLE "${name}" LOGIN NOINHERIT NOCREATEDB NOCREATEROLE CONNECTION LIMIT 20 PASSWORD '${password}'`);
    await client.query(`CREATE DATABASE "${name}"`);
    await client.query(`REVOKE ALL ON DATABASE "${name}" FROM PUBLIC`);
    await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE "${name}" TO "${name}"`);
    await client.query(`ALTER ROLE "${name}" IN DATABASE "${name}" SET search_path = app`);
  });
  await withAdmin(name, async (client) => {
    await client.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
    await client.query(`CREATE SCHEMA app AUTHORIZATION "${name}"`);
  });
  const server = new URL(TEST_DATABASE_URL);
  const url = new URL(TEST_DATABASE_URL);
  url.username = name;
  url.password = password;
  url.pathname = `/${name}`;
  return {
    database: name,
    role: name,
    password,
    url: url.toString(),
    pgEnv: { PGHOST: server.hostname, PGPORT: server.port || '5432', PGDATABASE: name, PGUSER: name, PGPASSWORD: password },
  };
}

/** Applies the first-deploy migration of `definition`, as the tenant's own role, in one transaction. */
export async function migrateTenant(tenant: TenantDatabase, definition: AppDefinition): Promise<void> {
  const plan = planMigration(null, definition, { allowDestructive: false });
  const client = new pg.Client({ connectionString: tenant.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const step of plan.steps) await client.query(step.sql);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/** Runs a query in the tenant's database as the server's admin (to look behind the app's back). */
export async function queryAsAdmin<R extends pg.QueryResultRow>(tenant: TenantDatabase, sql: string, values: unknown[] = []): Promise<R[]> {
  return withAdmin(tenant.database, async (client) => (await client.query<R>(sql, values)).rows);
}

/** Drops the databases and roles whose names start with `prefix` (this run's). */
export async function dropTenantDatabases(prefix: string): Promise<void> {
  await withAdmin(undefined, async (client) => {
    const dbs = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}%`]);
    for (const { datname } of dbs.rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    const roles = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [`${prefix}%`]);
    for (const { rolname } of roles.rows) await client.query(`DROP ROLE IF EXISTS "${rolname}"`);
  });
}

/** What is left on the server of this run's databases and roles. */
export async function leftovers(prefix: string): Promise<string[]> {
  return withAdmin(undefined, async (client) => {
    const { rows } = await client.query<{ name: string }>(
      `SELECT datname AS name FROM pg_database WHERE datname LIKE $1 UNION ALL SELECT rolname FROM pg_roles WHERE rolname LIKE $1`,
      [`${prefix}%`],
    );
    return rows.map((row) => row.name);
  });
}
