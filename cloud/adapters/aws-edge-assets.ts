import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';
import { checkReleaseId } from '../../lambdas/deploy/releases.js';
import { PermanentError, TransientError, ValidationError } from '../../lambdas/domain/errors.js';
import { publishingOrder, staticAssetCacheControl, staticAssetContentType, type StaticAssetFiles } from '../../lambdas/domain/static-assets.js';
import type { StaticAssetsPublished } from '../../lambdas/ports/edge.js';
import { callAws, isAwsError, toDomainError } from './aws-errors.js';

export interface S3StaticAssetsOptions {
  readonly s3: S3Client;
  readonly region: string;
}

const BUCKET_NAME = /^[a-z0-9](?:[a-z0-9.-]{1,61}[a-z0-9])$/;
const BUCKET_PREFIX = /^[a-z0-9.-]{0,63}$/;
/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1000;
/** DeleteObjects reports these per key; the same call may succeed later. */
const TRANSIENT_KEY_ERRORS = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable']);

/** User metadata on every published object (`x-amz-meta-hostplane-release`): the release it belongs to. */
export const RELEASE_METADATA = 'hostplane-release';

/** Refuses a name that is not a bucket name before it reaches an ARN or a policy. */
export function checkBucketName(bucket: string): string {
  if (typeof bucket !== 'string' || !BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new ValidationError('assetsBucket', `must be a bucket name, got ${JSON.stringify(bucket)}`);
  }
  return bucket;
}

/** The bucket's regional endpoint, as CloudFront's S3 origin names it. */
export function bucketRegionalDomain(bucket: string, region: string): string {
  return `${checkBucketName(bucket)}.s3.${region}.amazonaws.com`;
}

/**
 * The bucket policy: TLS only, and reads by CloudFront on behalf of one distribution only (the
 * Origin Access Control signs as the `cloudfront.amazonaws.com` service, `AWS:SourceArn` names the
 * distribution). With no distribution yet (a dedicated one is made after the bucket), TLS only.
 */
export function assetsBucketPolicy(bucket: string, distributionArn: string | undefined): string {
  const bucketArn = `arn:aws:s3:::${checkBucketName(bucket)}`;
  const statements: object[] = [
    {
      Sid: 'DenyInsecureTransport',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ];
  if (distributionArn !== undefined) {
    statements.push({
      Sid: 'AllowCloudFrontRead',
      Effect: 'Allow',
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Action: 's3:GetObject',
      Resource: `${bucketArn}/*`,
      Condition: { StringEquals: { 'AWS:SourceArn': distributionArn } },
    });
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/**
 * A tenant's static-asset bucket: private (all public access blocked, objects owned by the bucket
 * owner, no ACLs), encrypted at rest (SSE-S3), reachable over TLS only and read by CloudFront
 * through Origin Access Control.
 */
export class S3StaticAssets {
  private readonly s3: S3Client;
  private readonly region: string;

  constructor(options: S3StaticAssetsOptions) {
    this.s3 = options.s3;
    this.region = options.region;
  }

  /**
   * Creates the bucket, or adopts it when this account already owns it, and (re)applies its
   * settings. With no distribution to name yet, the policy of a new bucket is TLS only and an
   * adopted bucket keeps its policy (it may already name the tenant's dedicated distribution).
   */
  async ensure(bucket: string, distributionArn: string | undefined): Promise<void> {
    checkBucketName(bucket);
    let created = true;
    try {
      await this.s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ObjectOwnership: 'BucketOwnerEnforced',
          // us-east-1 is the default and refuses to be named as a constraint.
          CreateBucketConfiguration: this.region === 'us-east-1' ? undefined : { LocationConstraint: this.region as BucketLocationConstraint },
        }),
      );
    } catch (error) {
      if (isAwsError(error, 'BucketAlreadyExists')) throw new PermanentError(`creating bucket ${bucket}: the name belongs to another account`);
      if (!isAwsError(error, 'BucketAlreadyOwnedByYou')) rethrow(error, `creating bucket ${bucket}`);
      created = false;
    }
    await callAws(`blocking public access to bucket ${bucket}`, () =>
      this.s3.send(
        new PutPublicAccessBlockCommand({
          Bucket: bucket,
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
        }),
      ),
    );
    await callAws(`enforcing bucket-owner ownership on bucket ${bucket}`, () =>
      this.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } })),
    );
    await callAws(`encrypting bucket ${bucket}`, () =>
      this.s3.send(
        new PutBucketEncryptionCommand({
          Bucket: bucket,
          ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        }),
      ),
    );
    if (created || distributionArn !== undefined) await this.allowDistribution(bucket, distributionArn);
  }

  /** Writes the bucket policy that lets `distributionArn` (and nothing else) read the bucket. */
  async allowDistribution(bucket: string, distributionArn: string | undefined): Promise<void> {
    await callAws(`setting the policy of bucket ${bucket}`, () =>
      this.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: assetsBucketPolicy(bucket, distributionArn) })),
    );
  }

  /**
   * Writes a release's front end at the top of the bucket, under the keys CloudFront requests (no
   * origin path), each with its Content-Type, Cache-Control and the release in its metadata, pages
   * last; then deletes the objects an earlier release left that this one does not have. Every file
   * is written each time, so a retry after a partial run completes it.
   */
  async publish(bucket: string, releaseId: string, files: StaticAssetFiles): Promise<StaticAssetsPublished> {
    checkBucketName(bucket);
    checkReleaseId(releaseId);
    const keys = publishingOrder(files);
    for (const key of keys) {
      const content = files[key]!;
      await callAws(`writing ${key} to bucket ${bucket}`, () =>
        this.s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: typeof content === 'string' ? Buffer.from(content, 'utf8') : content,
            ContentType: staticAssetContentType(key),
            CacheControl: staticAssetCacheControl(key),
            Metadata: { [RELEASE_METADATA]: releaseId },
          }),
        ),
      );
    }
    const kept = new Set(keys);
    const stale = (await this.keys(bucket)).filter((key) => !kept.has(key));
    for (let start = 0; start < stale.length; start += DELETE_BATCH) {
      await callAws(`removing an earlier release's files from bucket ${bucket}`, () =>
        this.deleteObjects(bucket, stale.slice(start, start + DELETE_BATCH).map((key) => ({ Key: key }))),
      );
    }
    return { releaseId, written: keys.length, removed: stale.length };
  }

  /** Every key in the bucket (current objects), page by page. */
  async keys(bucket: string): Promise<string[]> {
    checkBucketName(bucket);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await callAws(`listing bucket ${bucket}`, () => this.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token })));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** Empties the bucket (every version and delete marker, page by page), then deletes it; false when there was none. */
  async remove(bucket: string): Promise<boolean> {
    checkBucketName(bucket);
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    let listed = false;
    try {
      for (;;) {
        const page = await this.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
        listed = true;
        const objects: ObjectIdentifier[] = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
          .filter((entry) => entry.Key !== undefined)
          .map((entry) => ({ Key: entry.Key, VersionId: entry.VersionId }));
        for (let start = 0; start < objects.length; start += DELETE_BATCH) {
          await this.deleteObjects(bucket, objects.slice(start, start + DELETE_BATCH));
        }
        if (!page.IsTruncated) break;
        keyMarker = page.NextKeyMarker;
        versionIdMarker = page.NextVersionIdMarker;
      }
      await this.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      return true;
    } catch (error) {
      // Gone before the first listing: there was nothing to remove. (A bucket that vanishes
      // mid-way was removed by another run of this step, which is what was asked.)
      if (isAwsError(error, 'NoSuchBucket')) return listed;
      return rethrow(error, `removing bucket ${bucket}`);
    }
  }

  async exists(bucket: string): Promise<boolean> {
    checkBucketName(bucket);
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (error) {
      if (isAwsError(error, 'NotFound', 'NoSuchBucket')) return false;
      return rethrow(error, `looking up bucket ${bucket}`);
    }
  }

  /** This account's buckets whose names start with `prefix`, sorted. */
  async list(prefix: string): Promise<string[]> {
    if (typeof prefix !== 'string' || !BUCKET_PREFIX.test(prefix)) {
      throw new ValidationError('prefix', `must be the start of a bucket name, got ${JSON.stringify(prefix)}`);
    }
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await callAws('listing buckets', () => this.s3.send(new ListBucketsCommand({ Prefix: prefix || undefined, ContinuationToken: token })));
      for (const bucket of page.Buckets ?? []) if (bucket.Name?.startsWith(prefix)) names.push(bucket.Name);
      token = page.ContinuationToken;
    } while (token);
    return names.sort();
  }

  private async deleteObjects(bucket: string, objects: ObjectIdentifier[]): Promise<void> {
    const result = await this.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    const failed = result.Errors ?? [];
    if (failed.length === 0) return;
    const first = failed[0];
    const message = `emptying bucket ${bucket}: ${failed.length} objects not deleted (${first?.Key}: ${first?.Code} ${first?.Message ?? ''})`.trimEnd();
    throw failed.every((entry) => entry.Code !== undefined && TRANSIENT_KEY_ERRORS.has(entry.Code)) ? new TransientError(message) : new PermanentError(message);
  }
}

/** Rethrows what an AWS call threw as a domain error (our own errors pass through). */
function rethrow(error: unknown, doing: string): never {
  throw toDomainError(error, doing);
}
