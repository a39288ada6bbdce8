/**
 * The backup store: where per-tenant backups are kept (S3 in the cloud, a folder locally).
 *
 * Objects are named by relative keys, `/`-separated (`dev/acme/bk-1/manifest.json`). A prefix is
 * matched as a plain string, as S3 matches it: `dev/acme` also matches `dev/acme2/…`; end it with
 * `/` to mean a folder.
 */
export interface BackupStorePort {
  /** Stores the object whole, replacing any under the same key: a reader sees the old or the new, never a part. */
  write(key: string, content: string | Uint8Array): Promise<void>;
  /** The object's content, or undefined when there is none. */
  read(key: string): Promise<Buffer | undefined>;
  /** Keys that start with `prefix` (empty: every key), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes every object whose key starts with `prefix` (which may not be empty); says how many there were. */
  remove(prefix: string): Promise<number>;
  /**
   * A URL anyone holding it can GET the object from until `expiresAt`, without other credentials
   * (an S3 presigned URL in the cloud; locally, a URL of the local API with a signed token). The
   * store itself stays private.
   */
  link(key: string, expiresInSeconds: number): Promise<DownloadLink>;
}

export interface DownloadLink {
  readonly url: string;
  /** ISO 8601: the URL is refused after this. */
  readonly expiresAt: string;
}

/** How long an export's link lasts: long enough to start a download, short enough that a leaked one soon dies. */
export const DOWNLOAD_LINK_SECONDS = 15 * 60;

/** S3's limit on a key. */
export const MAX_BACKUP_KEY_LENGTH = 1024;

/** A key segment: letters, digits, `.`, `_`, `-`, not starting with a dot (so never `.`, `..` or hidden). */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Checks a key and returns it: relative, `/`-separated, no empty, `.` or `..` segment. Throws naming the key otherwise. */
export function checkBackupKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_BACKUP_KEY_LENGTH || !key.split('/').every((part) => SEGMENT.test(part))) {
    throw new Error(
      `${JSON.stringify(key)} is not a backup key (relative, /-separated segments of letters, digits, . _ -, none empty or starting with a dot)`,
    );
  }
  return key;
}

/**
 * Checks a prefix and returns it: the start of a key, so every segment but the last is a whole one
 * and the last may be partial or empty (`dev/acme/`). `''` is allowed only when `allowEmpty`.
 */
export function checkBackupPrefix(prefix: string, { allowEmpty = false }: { allowEmpty?: boolean } = {}): string {
  if (typeof prefix !== 'string' || prefix.length > MAX_BACKUP_KEY_LENGTH) throw new Error(`${JSON.stringify(prefix)} is not a backup key prefix`);
  if (prefix === '') {
    if (allowEmpty) return prefix;
    throw new Error('an empty backup key prefix is refused here (it would match every key)');
  }
  const parts = prefix.split('/');
  const last = parts.pop()!;
  if (!parts.every((part) => SEGMENT.test(part)) || (last !== '' && !SEGMENT.test(last))) {
    throw new Error(`${JSON.stringify(prefix)} is not a backup key prefix (relative, /-separated segments of letters, digits, . _ -)`);
  }
  return prefix;
}
