import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: the message is shown with how to get help, and the run exits with 2. */
export class UsageError extends Error {}

type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * `--name value` options, no positionals; an unknown or malformed option is a {@link UsageError}
 * with Node's message (only its first sentence with `firstSentence`: Node goes on with advice
 * about positionals).
 */
export function parseFlags<const T extends FlagSpec>(argv: readonly string[], options: T, { firstSentence = false } = {}) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(firstSentence ? message.split(/\.\s/)[0]!.replace(/\.$/, '') : message);
  }
}

export function parseIntegerOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** `--database-url`, else `DATABASE_URL`, checked to be a postgres:// URL; undefined for the embedded PostgreSQL. */
export function databaseUrlOption(value: string | undefined): string | undefined {
  const databaseUrl = value ?? (process.env.DATABASE_URL || undefined);
  if (databaseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(databaseUrl);
    } catch {
      throw new UsageError('--database-url / DATABASE_URL is not a URL');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new UsageError('--database-url / DATABASE_URL must be a postgres:// URL');
  }
  return databaseUrl;
}

/** `REDIS_URL`; undefined for the control plane's default. */
export const redisUrlFromEnvironment = (): string | undefined => process.env.REDIS_URL || undefined;

/**
 * Reads the command line with `parse`: `--help` prints `usage` (exit code 0), a {@link UsageError}
 * prints `badUsage(message)` on stderr (exit code 2).
 */
export function readCommandLine<T>(
  parse: () => T | 'help',
  usage: string,
  badUsage: (message: string) => string,
): { readonly options: T } | { readonly exitCode: number } {
  try {
    const parsed = parse();
    if (parsed === 'help') {
      console.log(usage);
      return { exitCode: 0 };
    }
    return { options: parsed };
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(badUsage(error.message));
      return { exitCode: 2 };
    }
    throw error;
  }
}
