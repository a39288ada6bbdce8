import type { TenantResourceNames } from '../domain/naming.js';
import type { TenantPlan } from '../domain/tenant-plan.js';
import type { PlatformConfig } from '../ports/index.js';
import type { SecretsPort } from '../ports/secrets.js';
import { quoteIdent, quoteLiteral, type SqlPort } from '../ports/sql.js';
import { generatePassword } from './passwords.js';
import type { StepOutcome } from './step-outcome.js';

/**
 * The tenant's database secret, in the shape RDS uses for its own secrets, plus `sslmode` (libpq's
 * word, the app's PGSSLMODE): `verify-full` where the server requires TLS, so the app checks the
 * server's certificate chain and name; `disable` where it speaks none. Absent in secrets made before
 * it existed (local state folders only: the cloud world never ran without it).
 */
export interface DatabaseSecret {
  readonly engine: 'postgres';
  readonly host: string;
  readonly port: string;
  readonly dbname: string;
  readonly username: string;
  readonly password: string;
  readonly sslmode?: TenantSslMode;
}

export type TenantSslMode = 'verify-full' | 'disable';

/** The libpq `sslmode` a tenant connects with: TLS with full verification whenever the server requires TLS. */
export function tenantSslMode(config: PlatformConfig): TenantSslMode {
  return config.databaseEndpoint.tls ? 'verify-full' : 'disable';
}

const DUPLICATE_DATABASE = '42P04';
const DUPLICATE_OBJECT = '42710';

/**
 * Creates (or adopts) the tenant's database and login role: the role may connect to its own
 * database only (CONNECT revoked from PUBLIC) and owns the schema it works in. Safe to run twice.
 */
export async function ensureTenantDatabase(
  plan: TenantPlan,
  sql: SqlPort,
  secrets: SecretsPort,
  config: PlatformConfig,
): Promise<StepOutcome> {
  const { database, role, schema, databaseSecret } = plan.names;
  const secret = (await secrets.getOrCreate(databaseSecret, () => ({
    engine: 'postgres',
    host: config.databaseEndpoint.host,
    port: String(config.databaseEndpoint.port),
    dbname: database,
    username: role,
    password: generatePassword(),
    sslmode: tenantSslMode(config),
  }))) as unknown as DatabaseSecret;

  const roleOptions = `LOGIN NOINHERIT NOCREATEDB NOCREATEROLE CONNECTION LIMIT ${plan.database.connectionLimit} PASSWORD ${quoteLiteral(secret.password)}`;
  const roleExists = (await sql.query('SELECT 1 FROM pg_roles WHERE rolname = :role', { role })).rowCount > 0;
  if (roleExists) {
    await sql.query(`ALTER ROLE ${quoteIdent(role)} ${roleOptions}`);
  } else {
    await ignoring(DUPLICATE_OBJECT, () => sql.query(`CREATE ROLE ${quoteIdent(role)} ${roleOptions}`));
  }
  // An admin login that is not a superuser (RDS, Aurora, a CREATEDB CREATEROLE login) must be a
  // member of the tenant's role to make it own the schema and to run migrations as it (SET ROLE).
  await sql.query(`GRANT ${quoteIdent(role)} TO CURRENT_USER`);

  const databaseExists = (await sql.query('SELECT 1 FROM pg_database WHERE datname = :database', { database })).rowCount > 0;
  if (!databaseExists) {
    await ignoring(DUPLICATE_DATABASE, () => sql.query(`CREATE DATABASE ${quoteIdent(database)}`));
  }
  await sql.query(`REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC`);
  await sql.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}`);

  const inTenantDb = { database };
  await sql.query('REVOKE ALL ON SCHEMA public FROM PUBLIC', {}, inTenantDb);
  await sql.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)} AUTHORIZATION ${quoteIdent(role)}`, {}, inTenantDb);
  await sql.query(`ALTER SCHEMA ${quoteIdent(schema)} OWNER TO ${quoteIdent(role)}`, {}, inTenantDb);
  await sql.query(`ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(database)} SET search_path = ${quoteIdent(schema)}`);

  return { status: databaseExists ? 'updated' : 'created', database, role };
}

/** Drops the tenant's database (closing its sessions) and role, and its secret. Safe when already gone. */
export async function removeTenantDatabase(names: TenantResourceNames, sql: SqlPort, secrets: SecretsPort): Promise<boolean> {
  const existed =
    (await sql.query('SELECT 1 FROM pg_database WHERE datname = :database', { database: names.database })).rowCount > 0 ||
    (await sql.query('SELECT 1 FROM pg_roles WHERE rolname = :role', { role: names.role })).rowCount > 0;
  await sql.query(`DROP DATABASE IF EXISTS ${quoteIdent(names.database)} WITH (FORCE)`);
  await sql.query(`DROP ROLE IF EXISTS ${quoteIdent(names.role)}`);
  const secretExisted = await secrets.delete(names.databaseSecret);
  return existed || secretExisted;
}

export async function tenantDatabaseExists(names: TenantResourceNames, sql: SqlPort): Promise<boolean> {
  return (await sql.query('SELECT 1 FROM pg_database WHERE datname = :database', { database: names.database })).rowCount > 0;
}

async function ignoring(code: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if ((error as { code?: string }).code !== code) throw error;
  }
}
