import pg from 'pg';

/** Runs `work` on an admin connection (to `database`, else the one the URL names), closed afterwards. */
export async function withAdmin<T>(adminUrl: string, database: string | undefined, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(adminUrl);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops the databases and roles `hp_<environment>_*` a control plane made in an external PostgreSQL. */
export async function dropEnvironmentDatabases(adminUrl: string, environment: string): Promise<string> {
  return withAdmin(adminUrl, undefined, async (client) => {
    // `_` is a LIKE wildcard: escape it so only this environment's names match.
    const pattern = `hp\\_${environment}\\_%`;
    const dbs = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [pattern]);
    for (const { datname } of dbs.rows) await client.query(`DROP DATABASE IF EXISTS "${datname.replaceAll('"', '""')}" WITH (FORCE)`);
    const roles = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [pattern]);
    for (const { rolname } of roles.rows) await client.query(`DROP ROLE IF EXISTS "${rolname.replaceAll('"', '""')}"`);
    return `dropped ${dbs.rowCount ?? 0} database(s) and ${roles.rowCount ?? 0} role(s)`;
  });
}
