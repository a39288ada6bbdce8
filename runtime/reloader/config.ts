/**
 * The reloader's configuration: validated options (for code that embeds it, such as the local
 * compute adapter and tests) and the environment variables that set them (for the container).
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';

export const HEALTH_MODES = ['http', 'ipc'] as const;
/**
 * How a new process proves it is ready before it takes over:
 * - `http`: the reloader GETs the health path on a private loopback socket handed to the process
 *   as fd 4 (`HOSTPLANE_HEALTH_FD=4`), so the check reaches that very process and not whichever
 *   process accepts on the shared socket;
 * - `ipc`: the process sends `{ "type": "ready" }` (or `"READY=1"`) over the Node IPC channel.
 */
export type HealthMode = (typeof HEALTH_MODES)[number];

/** Placeholders replaced in each argument of the release command. */
export const RELEASE_DIR_PLACEHOLDER = '{releaseDir}';
export const RELEASE_ID_PLACEHOLDER = '{releaseId}';

export const DEFAULT_RELEASE_COMMAND: readonly string[] = [process.execPath, `${RELEASE_DIR_PLACEHOLDER}/server.mjs`];

const ms = (min: number, max: number) => z.number().int().min(min).max(max);
const port = z.number().int().min(0).max(65_535);

export const reloaderOptionsSchema = z.object({
  /** Holds `current` (a symlink to, or a file naming, `releases/<id>`), `releases/` and `status.json`. */
  appDir: z.string().refine(isAbsolute, 'must be an absolute path'),
  /** The public socket the app processes share (0: any free port). */
  host: z.string().min(1).default('127.0.0.1'),
  port,
  /** The command that runs a release, with {@link RELEASE_DIR_PLACEHOLDER} and {@link RELEASE_ID_PLACEHOLDER}. */
  command: z.array(z.string().min(1)).min(1).default([...DEFAULT_RELEASE_COMMAND]),
  /** How often `current` is read (EFS is NFS: file events do not cross clients). */
  pollIntervalMs: ms(10, 600_000).default(1_000),
  health: z
    .object({
      mode: z.enum(HEALTH_MODES).default('http'),
      path: z.string().startsWith('/', 'must start with /').default('/healthz'),
      /** A new process that is not healthy by then is killed and its release marked failed. */
      timeoutMs: ms(100, 600_000).default(10_000),
      /** Between two health requests. */
      intervalMs: ms(5, 10_000).default(50),
    })
    .prefault({}),
  /** After SIGTERM, an old process that has not exited by then is killed. Longer than the app's own drain deadline. */
  drainDeadlineMs: ms(100, 600_000).default(15_000),
  restartBackoff: z
    .object({
      initialMs: ms(1, 600_000).default(250),
      maxMs: ms(1, 3_600_000).default(30_000),
      /** A process that stayed up this long resets the backoff. */
      resetAfterMs: ms(0, 3_600_000).default(30_000),
    })
    .prefault({}),
  /** Where `/__runtime/healthz` is answered, apart from the app's socket (port 0: any free port). */
  runtimeHealth: z.object({ host: z.string().min(1).default('127.0.0.1'), port: port.default(0) }).prefault({}),
  /**
   * Run the command through `/bin/sh -c 'LISTEN_PID=$$; exec "$@"'` so that LISTEN_PID is the app's
   * own pid, as systemd sets it (libsystemd's sd_listen_fds ignores the fds otherwise). Needs /bin/sh.
   */
  exactListenPid: z.boolean().default(true),
});

export type ReloaderOptions = z.input<typeof reloaderOptionsSchema>;
export type ReloaderConfig = z.output<typeof reloaderOptionsSchema>;
export type HealthConfig = ReloaderConfig['health'];
export type BackoffConfig = ReloaderConfig['restartBackoff'];

export class ReloaderConfigError extends Error {
  override readonly name = 'ReloaderConfigError';
}

function describeIssues(error: z.ZodError): string {
  return `bad configuration:\n${error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`).join('\n')}`;
}

/** Validates options and fills in defaults. */
export function resolveReloaderConfig(options: ReloaderOptions): ReloaderConfig {
  const parsed = reloaderOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ReloaderConfigError(describeIssues(parsed.error));
  if (parsed.data.restartBackoff.maxMs < parsed.data.restartBackoff.initialMs) {
    throw new ReloaderConfigError('bad configuration:\n  restartBackoff.maxMs: must not be below restartBackoff.initialMs');
  }
  return parsed.data;
}

const wholeNumber = z.string().regex(/^\d{1,10}$/, 'must be a whole number').transform(Number);
const optionalWholeNumber = wholeNumber.optional();

const commandJson = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array of strings, e.g. ["node","{releaseDir}/server.mjs"]' });
    return z.NEVER;
  }
});

const envSchema = z.object({
  HOSTPLANE_APP_DIR: z.string({ error: 'is not set' }).refine(isAbsolute, 'must be an absolute path'),
  HOST: z.string().min(1, 'must not be empty').optional(),
  PORT: z.string({ error: 'is not set' }).pipe(wholeNumber),
  HOSTPLANE_RELEASE_COMMAND: commandJson.pipe(z.array(z.string().min(1)).min(1)).optional(),
  HOSTPLANE_RELOADER_POLL_MS: optionalWholeNumber,
  HOSTPLANE_HEALTH_MODE: z.enum(HEALTH_MODES).optional(),
  HOSTPLANE_HEALTH_PATH: z.string().optional(),
  HOSTPLANE_HEALTH_TIMEOUT_MS: optionalWholeNumber,
  HOSTPLANE_DRAIN_DEADLINE_MS: optionalWholeNumber,
  HOSTPLANE_RESTART_BACKOFF_MS: optionalWholeNumber,
  HOSTPLANE_RESTART_BACKOFF_MAX_MS: optionalWholeNumber,
  HOSTPLANE_RUNTIME_HEALTH_HOST: z.string().min(1, 'must not be empty').optional(),
  HOSTPLANE_RUNTIME_HEALTH_PORT: optionalWholeNumber,
  HOSTPLANE_EXACT_LISTEN_PID: z.enum(['true', 'false']).optional(),
});

/**
 * Reads the configuration from environment variables: `HOSTPLANE_APP_DIR`, `PORT` (required),
 * `HOST`, `HOSTPLANE_RELEASE_COMMAND` (JSON array), `HOSTPLANE_RELOADER_POLL_MS`,
 * `HOSTPLANE_HEALTH_MODE|PATH|TIMEOUT_MS`, `HOSTPLANE_DRAIN_DEADLINE_MS`,
 * `HOSTPLANE_RESTART_BACKOFF_MS|_MAX_MS`, `HOSTPLANE_RUNTIME_HEALTH_HOST|PORT`, `HOSTPLANE_EXACT_LISTEN_PID`.
 */
export function loadReloaderConfig(env: NodeJS.ProcessEnv): ReloaderConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ReloaderConfigError(describeIssues(parsed.error));
  const e = parsed.data;
  return resolveReloaderConfig({
    appDir: e.HOSTPLANE_APP_DIR,
    host: e.HOST,
    port: e.PORT,
    command: e.HOSTPLANE_RELEASE_COMMAND,
    pollIntervalMs: e.HOSTPLANE_RELOADER_POLL_MS,
    health: { mode: e.HOSTPLANE_HEALTH_MODE, path: e.HOSTPLANE_HEALTH_PATH, timeoutMs: e.HOSTPLANE_HEALTH_TIMEOUT_MS },
    drainDeadlineMs: e.HOSTPLANE_DRAIN_DEADLINE_MS,
    restartBackoff: { initialMs: e.HOSTPLANE_RESTART_BACKOFF_MS, maxMs: e.HOSTPLANE_RESTART_BACKOFF_MAX_MS },
    runtimeHealth: { host: e.HOSTPLANE_RUNTIME_HEALTH_HOST, port: e.HOSTPLANE_RUNTIME_HEALTH_PORT },
    exactListenPid: e.HOSTPLANE_EXACT_LISTEN_PID === undefined ? undefined : e.HOSTPLANE_EXACT_LISTEN_PID === 'true',
  });
}
