/** `src/config.ts` of a generated app: everything it reads from its environment. */
export const CONFIG_SOURCE = String.raw`/**
 * The environment (see the codegen README for the table):
 *
 *   LISTEN_FDS=1 (LISTEN_PID)    serve on the inherited socket fd 3 (systemd socket activation)
 *   PORT, HOST                   otherwise listen here (HOST defaults to 127.0.0.1; PORT 0 picks one)
 *   HOSTPLANE_HEALTH_FD          a private socket for the supervisor's health check (fd 4)
 *   HOSTPLANE_HEALTH_PATH        its path (default /healthz)
 *   HOSTPLANE_RELEASE_ID         shown by /version
 *   DATABASE_URL                 the tenant's database; when unset, the libpq variables
 *   PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD (PGSSLMODE)   which is the tenant secret's shape
 *   HOSTPLANE_DB_POOL_MAX        connections per process (default 4; two processes overlap in a swap)
 *   REDIS_URL + HOSTPLANE_CACHE_PREFIX   cache reads by id under the prefix; both or no cache
 *   HOSTPLANE_CACHE_TTL_SECONDS  how long (default 30)
 */

export type Listen = { readonly kind: 'fd'; readonly fd: number } | { readonly kind: 'port'; readonly host: string; readonly port: number };

export interface CacheConfig {
  readonly url: string;
  readonly prefix: string;
  readonly ttlSeconds: number;
}

export interface AppConfig {
  readonly listen: Listen;
  readonly healthFd: number | undefined;
  readonly healthPath: string;
  readonly release: string | null;
  /** Unset: the pg driver reads PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD itself. */
  readonly databaseUrl: string | undefined;
  readonly poolMax: number;
  readonly cache: CacheConfig | undefined;
}

export class ConfigError extends Error {}

export const LISTEN_FD = 3;

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    problems.push(name + ': must be a whole number from ' + min + ' to ' + max + ', got ' + JSON.stringify(raw));
    return fallback;
  }
  return value;
}

/** Reads and checks the configuration; a ConfigError lists every problem. */
export function loadConfig(env: NodeJS.ProcessEnv, pid: number): AppConfig {
  const problems: string[] = [];

  // sd_listen_fds(3): the descriptors are ours only when LISTEN_PID, if set, is our pid.
  const activated = env.LISTEN_FDS === '1' && (env.LISTEN_PID === undefined || env.LISTEN_PID === String(pid));
  let listen: Listen = { kind: 'fd', fd: LISTEN_FD };
  if (!activated) {
    if (env.LISTEN_FDS === '1') problems.push('LISTEN_PID: is ' + env.LISTEN_PID + ', not this process (' + pid + ')');
    else if (env.LISTEN_FDS !== undefined && env.LISTEN_FDS !== '' && env.LISTEN_FDS !== '0') problems.push('LISTEN_FDS: only 1 socket is supported');
    if (env.PORT === undefined || env.PORT === '') problems.push('PORT: is not set (or start the app with LISTEN_FDS=1 and the socket as fd 3)');
    const port = wholeNumber(env, 'PORT', 0, 0, 65535, problems);
    listen = { kind: 'port', host: env.HOST || '127.0.0.1', port };
  }

  let healthFd: number | undefined;
  if (env.HOSTPLANE_HEALTH_FD !== undefined && env.HOSTPLANE_HEALTH_FD !== '') {
    healthFd = wholeNumber(env, 'HOSTPLANE_HEALTH_FD', 4, 3, 1000, problems);
  }
  const healthPath = env.HOSTPLANE_HEALTH_PATH || '/healthz';
  if (!healthPath.startsWith('/')) problems.push('HOSTPLANE_HEALTH_PATH: must start with /');

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl === undefined) {
    const missing = ['PGHOST', 'PGDATABASE', 'PGUSER'].filter((name) => !env[name]);
    if (missing.length > 0) problems.push('DATABASE_URL: is not set, nor are ' + missing.join(', ') + ' (the tenant database secret)');
  }
  const poolMax = wholeNumber(env, 'HOSTPLANE_DB_POOL_MAX', 4, 1, 100, problems);

  let cache: CacheConfig | undefined;
  const redisUrl = env.REDIS_URL || undefined;
  const prefix = env.HOSTPLANE_CACHE_PREFIX || undefined;
  const ttlSeconds = wholeNumber(env, 'HOSTPLANE_CACHE_TTL_SECONDS', 30, 1, 86400, problems);
  if (redisUrl !== undefined && prefix !== undefined) {
    if (!/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL: must start with redis:// or rediss://');
    if (!/^[A-Za-z0-9:._-]{1,100}$/.test(prefix)) problems.push('HOSTPLANE_CACHE_PREFIX: must be 1 to 100 of A-Z a-z 0-9 : . _ -');
    cache = { url: redisUrl, prefix, ttlSeconds };
  }

  if (problems.length > 0) throw new ConfigError('bad configuration:\n  ' + problems.join('\n  '));
  return {
    listen,
    healthFd,
    healthPath,
    release: env.HOSTPLANE_RELEASE_ID || null,
    databaseUrl,
    poolMax,
    cache,
  };
}
`;
