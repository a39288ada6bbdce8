import pg from 'pg';
import { PgSql } from '../../local/adapters/pg-sql.js';
import { TEST_DATABASE_URL } from './services.js';

/** Runs `work` on an admin connection to the test server (to `database`, else the URL's), closed afterwards. */
export async function withAdmin<T>(database: string | undefined, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(TEST_DATABASE_URL);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database on the test server and returns a PgSql whose default it is. */
export async function createTestDatabase(name: string): Promise<PgSql> {
  await withAdmin(undefined, (client) => client.query(`CREATE DATABASE "${name}"`));
  return new PgSql({ connectionString: TEST_DATABASE_URL, defaultDatabase: name });
}

/** Drops every database and role on the test server whose name starts with `prefix` (the test run's). */
export async function dropTestDatabases(prefix: string): Promise<void> {
  await withAdmin(undefined, async (client) => {
    const dbs = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${prefix}%`]);
    for (const { datname } of dbs.rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    const roles = await client.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`${prefix}%`]);
    for (const { rolname } of roles.rows) await client.query(`DROP ROLE IF EXISTS "${rolname}"`);
  });
}
