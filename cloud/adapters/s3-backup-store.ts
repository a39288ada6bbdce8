import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PermanentError, TransientError } from '../../lambdas/domain/errors.js';
import { MAX_BACKUP_KEY_LENGTH, checkBackupKey, checkBackupPrefix, type BackupStorePort, type DownloadLink } from '../../lambdas/ports/backup-store.js';
import { callAws, isAwsError, toDomainError } from './aws-errors.js';

/** DeleteObjects takes at most 1,000 keys a request. */
const DELETE_BATCH = 1000;

/** Per-key DeleteObjects error codes that may succeed on a later try. */
const RETRYABLE_DELETE_CODES = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable', 'OperationAborted', 'RequestTimeout']);

export interface S3BackupStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Where in the bucket the store's keys live, ending in `/` (`backups/`). @default '' (the bucket's root) */
  readonly prefix?: string;
  /**
   * The KMS key objects are encrypted with (sent as `aws:kms` on every write). Without it, writes
   * send no encryption header and the bucket's default encryption applies (SSE-S3 at least; the
   * bucket construct may set a KMS default).
   */
  readonly kmsKeyId?: string;
  /** The clock a link's expiry is told by. @default the system clock */
  readonly now?: () => Date;
}

/**
 * The backup store in an S3 bucket: the store's key `dev/acme/bk-1/manifest.json` is the object
 * `<prefix>dev/acme/bk-1/manifest.json`. A PutObject replaces an object whole, so readers see the
 * old or the new content, never a part.
 *
 * S3 answers NoSuchKey for a missing object only when the caller may list the bucket; without
 * `s3:ListBucket` it answers AccessDenied, which is not read as "absent".
 */
export class S3BackupStore implements BackupStorePort {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly kmsKeyId: string | undefined;
  private readonly now: () => Date;

  constructor(options: S3BackupStoreOptions) {
    const prefix = options.prefix ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`the backup store prefix ${JSON.stringify(prefix)} must end with /`);
    checkBackupPrefix(prefix, { allowEmpty: true });
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.kmsKeyId = options.kmsKeyId;
    this.now = options.now ?? (() => new Date());
  }

  async write(key: string, content: string | Uint8Array): Promise<void> {
    const objectKey = this.objectKey(checkBackupKey(key));
    const encryption: Partial<PutObjectCommandInput> = this.kmsKeyId ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.kmsKeyId } : {};
    await callAws(`writing backup object s3://${this.bucket}/${objectKey}`, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: content, ...encryption })),
    );
  }

  async read(key: string): Promise<Buffer | undefined> {
    const objectKey = this.objectKey(checkBackupKey(key));
    const doing = `reading backup object s3://${this.bucket}/${objectKey}`;
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return answer.Body ? Buffer.from(await answer.Body.transformToByteArray()) : Buffer.alloc(0);
    } catch (error) {
      if (isAwsError(error, 'NoSuchKey')) return undefined;
      throw toDomainError(error, doing);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys = await this.keysUnder(checkBackupPrefix(prefix, { allowEmpty: true }));
    // Keys this store could not have written (a console "folder" object `a/b/`) are not listed.
    return keys.filter(isBackupKey).sort();
  }

  /** Removes every object under the prefix, even ones `list` leaves out, so nothing is left behind. */
  async remove(prefix: string): Promise<number> {
    const keys = await this.keysUnder(checkBackupPrefix(prefix));
    let removed = 0;
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH).map((key) => this.objectKey(key));
      const doing = `removing ${batch.length} backup objects under s3://${this.bucket}/${this.prefix}${prefix}`;
      const answer = await callAws(doing, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
      // DeleteObjects answers 200 with per-key Errors (quiet mode lists only those).
      const errors = answer.Errors ?? [];
      if (errors.length > 0) {
        const shown = errors
          .slice(0, 3)
          .map((error) => `${error.Key ?? '?'}: ${error.Code ?? 'UnknownError'}`)
          .join(', ');
        const message = `${doing}: ${errors.length} could not be removed (${shown}${errors.length > 3 ? ', …' : ''})`;
        throw errors.every((error) => RETRYABLE_DELETE_CODES.has(error.Code ?? '')) ? new TransientError(message) : new PermanentError(message);
      }
      removed += batch.length;
    }
    return removed;
  }

  /**
   * A presigned GetObject URL, signed locally with the caller's credentials (no request is sent): it
   * works while those credentials may GetObject and until `expiresInSeconds` pass (at most 7 days;
   * a role's session may end sooner). The bucket stays private.
   */
  async link(key: string, expiresInSeconds: number): Promise<DownloadLink> {
    const objectKey = this.objectKey(checkBackupKey(key));
    const signingDate = this.now();
    const url = await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }), { expiresIn: expiresInSeconds, signingDate });
    return { url, expiresAt: new Date(signingDate.getTime() + expiresInSeconds * 1000).toISOString() };
  }

  private objectKey(key: string): string {
    const objectKey = this.prefix + key;
    if (objectKey.length > MAX_BACKUP_KEY_LENGTH) throw new Error(`${JSON.stringify(key)} is not a backup key (too long under ${JSON.stringify(this.prefix)})`);
    return objectKey;
  }

  /** The store keys (without the store's prefix) of every object whose key starts with `prefix`, every page. */
  private async keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await callAws(`listing backup objects under s3://${this.bucket}/${this.prefix}${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: continuationToken })),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key?.startsWith(this.prefix)) keys.push(object.Key.slice(this.prefix.length));
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return keys;
  }
}

function isBackupKey(key: string): boolean {
  try {
    checkBackupKey(key);
    return true;
  } catch {
    return false;
  }
}
