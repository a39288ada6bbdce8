import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { S3BackupStore } from '../../cloud/adapters/s3-backup-store.js';
import { ErrorNames } from '../../lambdas/domain/errors.js';

const BUCKET = 'hp-dev-c1-backups';

/** A GetObject body as the SDK hands it out: a stream with `transformToByteArray`. */
function body(bytes: Uint8Array): GetObjectCommandOutput['Body'] {
  return { transformToByteArray: async () => bytes } as unknown as GetObjectCommandOutput['Body'];
}

describe('S3BackupStore', () => {
  const s3 = mockClient(S3Client);
  const client = new S3Client({ region: 'eu-west-1' });
  const store = new S3BackupStore({ client, bucket: BUCKET, prefix: 'backups/' });

  beforeEach(() => {
    s3.reset();
  });

  it('writes an object whole under the store prefix, leaving encryption to the bucket default', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"e"' });

    await store.write('dev/acme/bk-1/manifest.json', '{"format":"x"}');

    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: BUCKET, Key: 'backups/dev/acme/bk-1/manifest.json', Body: '{"format":"x"}' });
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).not.toHaveProperty('ServerSideEncryption');
  });

  it('asks for SSE-KMS with the given key when a kmsKeyId is set', async () => {
    s3.on(PutObjectCommand).resolves({});
    const encrypted = new S3BackupStore({ client, bucket: BUCKET, kmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abc' });
    const bytes = new Uint8Array([0, 1, 2, 255]);

    await encrypted.write('dev/acme/bk-1/data/book.jsonl', bytes);

    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: BUCKET,
      Key: 'dev/acme/bk-1/data/book.jsonl',
      Body: bytes,
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abc',
    });
  });

  it('reads an object into a Buffer, and undefined when there is no such key', async () => {
    s3.on(GetObjectCommand, { Key: 'backups/dev/acme/bk-1/data/book.jsonl' }).resolves({ Body: body(new Uint8Array([0, 1, 2, 255])) });
    s3.on(GetObjectCommand, { Key: 'backups/dev/acme/bk-1/missing.json' }).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));

    const read = await store.read('dev/acme/bk-1/data/book.jsonl');

    expect(Buffer.isBuffer(read)).toBe(true);
    expect([...(read ?? [])]).toEqual([0, 1, 2, 255]);
    expect(await store.read('dev/acme/bk-1/missing.json')).toBeUndefined();
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: BUCKET, Key: 'backups/dev/acme/bk-1/data/book.jsonl' });
  });

  it('does not read access denied as absent', async () => {
    s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' }));

    await expect(store.read('dev/acme/bk-1/manifest.json')).rejects.toMatchObject({
      name: ErrorNames.permanent,
      message: expect.stringContaining(`reading backup object s3://${BUCKET}/backups/dev/acme/bk-1/manifest.json: AccessDenied`),
    });
  });

  it('lists keys across pages, without the store prefix, sorted, skipping objects that are not backup keys', async () => {
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({
      Contents: [{ Key: 'backups/dev/acme/bk-2/manifest.json' }, { Key: 'backups/dev/acme/' }],
      IsTruncated: true,
      NextContinuationToken: 'token-2',
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: 'token-2' }).resolves({
      Contents: [{ Key: 'backups/dev/acme/bk-1/manifest.json' }, { Key: 'backups/dev/acme2/bk-1/manifest.json' }],
      IsTruncated: false,
    });

    expect(await store.list('dev/acme')).toEqual(['dev/acme/bk-1/manifest.json', 'dev/acme/bk-2/manifest.json', 'dev/acme2/bk-1/manifest.json']);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: BUCKET, Prefix: 'backups/dev/acme' });
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: BUCKET, Prefix: 'backups/dev/acme', ContinuationToken: 'token-2' });
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 2);
  });

  it('lists every key for an empty prefix and nothing for a prefix with no objects', async () => {
    s3.on(ListObjectsV2Command, { Prefix: 'backups/' }).resolves({ Contents: [{ Key: 'backups/b/1' }, { Key: 'backups/a/1' }], IsTruncated: false });
    s3.on(ListObjectsV2Command, { Prefix: 'backups/nobody/' }).resolves({ KeyCount: 0, IsTruncated: false });

    expect(await store.list('')).toEqual(['a/1', 'b/1']);
    expect(await store.list('nobody/')).toEqual([]);
  });

  it('removes by prefix in batches of 1000 and counts what it removed', async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `backups/dev/acme/bk-1/data/${String(i).padStart(4, '0')}.jsonl`);
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({ Contents: keys.slice(0, 1000).map((Key) => ({ Key })), IsTruncated: true, NextContinuationToken: 't2' });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't2' }).resolves({ Contents: keys.slice(1000, 2000).map((Key) => ({ Key })), IsTruncated: true, NextContinuationToken: 't3' });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't3' }).resolves({ Contents: keys.slice(2000).map((Key) => ({ Key })), IsTruncated: false });
    s3.on(DeleteObjectsCommand).resolves({});

    expect(await store.remove('dev/acme/bk-1/')).toBe(2500);

    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 3);
    const batches = s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input);
    expect(batches.map((input) => input.Delete?.Objects?.length)).toEqual([1000, 1000, 500]);
    expect(batches.flatMap((input) => input.Delete?.Objects?.map((object) => object.Key))).toEqual(keys);
    expect(batches.every((input) => input.Bucket === BUCKET && input.Delete?.Quiet === true)).toBe(true);
  });

  it('removes nothing and says 0 when nothing is under the prefix', async () => {
    s3.on(ListObjectsV2Command).resolves({ IsTruncated: false });

    expect(await store.remove('dev/acme/bk-9/')).toBe(0);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 0);
  });

  it('surfaces per-key DeleteObjects errors: retryable codes as transient, others as permanent', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'backups/dev/acme/bk-1/a' }, { Key: 'backups/dev/acme/bk-1/b' }], IsTruncated: false });
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [{ Key: 'backups/dev/acme/bk-1/b', Code: 'SlowDown', Message: 'Reduce your request rate.' }] })
      .resolves({ Errors: [{ Key: 'backups/dev/acme/bk-1/a', Code: 'AccessDenied', Message: 'Access Denied' }] });

    await expect(store.remove('dev/acme/bk-1/')).rejects.toMatchObject({
      name: ErrorNames.transient,
      message: expect.stringContaining('1 could not be removed (backups/dev/acme/bk-1/b: SlowDown)'),
    });
    await expect(store.remove('dev/acme/bk-1/')).rejects.toMatchObject({ name: ErrorNames.permanent });
  });

  it('maps a throttled list to transient and a missing bucket to permanent', async () => {
    s3.on(ListObjectsV2Command)
      .rejectsOnce(new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Reduce your request rate.' }))
      .rejects(new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: {} }));

    await expect(store.list('dev/')).rejects.toMatchObject({ name: ErrorNames.transient });
    await expect(store.list('dev/')).rejects.toMatchObject({ name: ErrorNames.permanent });
  });

  it('refuses keys and prefixes that could point anywhere else, before calling S3', async () => {
    for (const key of ['', '/abs/key', '../up', 'a/../b', 'a//b', 'a/', '.hidden', 'a\\b', `a/${'x'.repeat(1100)}`]) {
      await expect(store.write(key, 'x')).rejects.toThrow('is not a backup key');
      await expect(store.read(key)).rejects.toThrow('is not a backup key');
    }
    await expect(store.write(`a/${'x'.repeat(1020)}`, 'x')).rejects.toThrow('too long under "backups/"');
    await expect(store.list('../')).rejects.toThrow('is not a backup key prefix');
    await expect(store.remove('')).rejects.toThrow('empty backup key prefix');
    expect(s3.calls()).toHaveLength(0);
  });

  it('refuses a store prefix that is not a folder', () => {
    expect(() => new S3BackupStore({ client, bucket: BUCKET, prefix: 'backups' })).toThrow('must end with /');
    expect(() => new S3BackupStore({ client, bucket: BUCKET, prefix: '../x/' })).toThrow('is not a backup key prefix');
  });
});

describe('S3BackupStore links', () => {
  it('presigns a GetObject URL of the object under the store prefix, lasting the time asked, without sending a request', async () => {
    const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
    const signedAt = new Date('2026-11-23T13:00:00Z');
    const store = new S3BackupStore({ client, bucket: 'hp-dev-backups', prefix: 'backups/', now: () => signedAt });

    const link = await store.link('dev/exports/acme/op-1/acme-bk-1.tar.gz', 900);

    const url = new URL(link.url);
    expect(url.hostname).toBe('hp-dev-backups.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/backups/dev/exports/acme/op-1/acme-bk-1.tar.gz');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20261123T130000Z');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(link.expiresAt).toBe('2026-11-23T13:15:00.000Z');
    await expect(store.link('../escape', 900)).rejects.toThrow('is not a backup key');
  });
});
