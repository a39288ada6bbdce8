import pg from 'pg';

/** The login the Data API signs in with in a rehearsal: Aurora's master user, as far as PostgreSQL can tell. */
export interface AuroraLikeAdmin {
  readonly username: string;
  readonly password: string;
}

/**
 * Creates (or brings back to shape) a LOGIN role with CREATEDB and CREATEROLE and nothing more, like
 * Aurora PostgreSQL's master user, which is no superuser (its `rds_superuser` membership has no
 * counterpart here). `superuserConfig` is a connection that may create roles (the machine's
 * `postgres`). Safe to run twice; the password is set each time.
 */
export async function ensureAuroraLikeAdmin(superuserConfig: pg.ClientConfig, admin: AuroraLikeAdmin): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(admin.username)) throw new Error(`refusing an unexpected role name: ${JSON.stringify(admin.username)}`);
  const client = new pg.Client(superuserConfig);
  await client.connect();
  try {
    const role = `"${admin.username}"`;
    const password = `'${admin.password.replaceAll("'", "''")}'`;
    const attributes = `LOGIN CREATEDB CREATEROLE NOSUPERUSER NOREPLICATION NOBYPASSRLS INHERIT PASSWORD ${password}`;
    const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [admin.username]);
    if ((rowCount ?? 0) === 0) {
      await client.query(`CREATE ROLE ${role} ${attributes}`).catch((error: { code?: string }) => {
        if (error.code !== '42710') throw error; // created meanwhile by another run: altered below
      });
    }
    await client.query(`ALTER ROLE ${role} ${attributes}`);
  } finally {
    await client.end();
  }
}
