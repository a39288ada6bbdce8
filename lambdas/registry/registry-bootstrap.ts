import { createHash } from 'node:crypto';
import { TransientError, errorMessage } from '../domain/errors.js';
import { registryDatabaseName } from '../domain/naming.js';
import { quoteIdent, type SqlPort } from '../ports/sql.js';
import { REGISTRY_MIGRATIONS, migrateRegistry, type Migration } from './migrations.js';

/**
 * The database every PostgreSQL server has (initdb makes it; Aurora keeps it): where the registry's
 * own database is looked for and created, since the registry may not exist yet.
 */
export const MAINTENANCE_DATABASE = 'postgres';

/**
 * Creates `database` on the server unless it exists. Returns whether this call created it. Safe to
 * run twice and side by side: a racing creator's "already exists", in whichever form PostgreSQL
 * reports it, is taken as done once the database is seen.
 */
export async function ensureDatabase(sql: SqlPort, database: string): Promise<boolean> {
  const onServer = { database: MAINTENANCE_DATABASE };
  const exists = async () => (await sql.query('SELECT 1 FROM pg_database WHERE datname = :database', { database }, onServer)).rowCount > 0;
  if (await exists()) return false;
  try {
    await sql.query(`CREATE DATABASE ${quoteIdent(database)}`, undefined, onServer);
    return true;
  } catch (error) {
    // Another creator got there first (42P04, or a unique violation on pg_database in a close race).
    if (!(error instanceof TransientError) && (await exists())) return false;
    throw error;
  }
}

/**
 * A digest of a migration list (versions, names, statements): it changes exactly when a migration is
 * added or a statement differs, so the stack can carry it and CloudFormation re-runs the bootstrap.
 */
export function migrationsDigest(migrations: readonly Migration[] = REGISTRY_MIGRATIONS): string {
  const canonical = JSON.stringify(migrations.map(({ version, name, statements }) => [version, name, statements]));
  return createHash('sha256').update(canonical).digest('hex');
}

/** How long to keep trying through transient errors (a resuming Aurora, throttling), and how to wait. */
export interface TransientRetry {
  /** Epoch ms after which the last transient error is thrown. */
  readonly deadline: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** @default 1_000, doubling per attempt */
  readonly initialDelayMs?: number;
  /** @default 15_000 */
  readonly maxDelayMs?: number;
}

/**
 * Runs `work` until it succeeds, sleeping with exponential backoff after each `Hostplane.Transient`
 * error — what the adapters turn a resuming database, throttling or a dropped connection into — until
 * `retry.deadline`. Any other error is thrown at once. `work` must be idempotent.
 */
export async function retryTransient<T>(what: string, work: () => Promise<T>, retry: TransientRetry): Promise<T> {
  let delay = retry.initialDelayMs ?? 1_000;
  const maxDelay = retry.maxDelayMs ?? 15_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const left = retry.deadline - retry.now();
      if (!(error instanceof TransientError)) throw error;
      if (left <= 0) throw new TransientError(`${what}: still failing after ${attempt} attempts: ${errorMessage(error)}`);
      await retry.sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}

/** What bootstrapping the registry did. */
export interface RegistryBootstrapResult {
  readonly database: string;
  /** Whether this run created the database. */
  readonly created: boolean;
  /** The migration versions this run applied (none when the registry was up to date). */
  readonly applied: number[];
  readonly migrationsDigest: string;
}

/**
 * Makes the environment's registry exist and be up to date: its database created on the server if
 * missing, then every migration not yet applied. `sql` must have that registry as its default
 * database (both worlds' composition roots derive it with `registryDatabaseName`). Idempotent;
 * transient failures (a cold Aurora resuming) are retried until `retry.deadline`.
 */
export async function ensureRegistry(
  sql: SqlPort,
  environment: string,
  retry: TransientRetry,
  migrations: readonly Migration[] = REGISTRY_MIGRATIONS,
): Promise<RegistryBootstrapResult> {
  const database = registryDatabaseName(environment);
  const created = await retryTransient(`creating the registry database ${database}`, () => ensureDatabase(sql, database), retry);
  const applied = await retryTransient(`migrating the registry ${database}`, () => migrateRegistry(sql, migrations), retry);
  return { database, created, applied, migrationsDigest: migrationsDigest(migrations) };
}
