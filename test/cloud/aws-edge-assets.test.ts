import { beforeEach, describe, expect, it } from '@jest/globals';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { Route53Client } from '@aws-sdk/client-route-53';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AwsEdge, type AwsEdgeOptions } from '../../cloud/adapters/aws-edge.js';

const s3 = mockClient(S3Client);
const BUCKET = 'hp-dev-c1-acme-assets';
const DISTRIBUTION_ARN = 'arn:aws:cloudfront::123456789012:distribution/EMULTI';

/** An error as an AWS SDK v3 client throws it. */
function awsError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} (test)`), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

function edge(overrides: Partial<AwsEdgeOptions> = {}): AwsEdge {
  return new AwsEdge({
    s3: new S3Client({ region: 'eu-west-1' }),
    cloudFront: new CloudFrontClient({ region: 'us-east-1' }),
    route53: new Route53Client({ region: 'us-east-1' }),
    mode: 'tenant',
    domain: 'apps.example.com',
    hostedZoneId: 'ZZONE',
    namePrefix: 'hp-dev-c1',
    multiTenantDistributionId: 'EMULTI',
    albDomainName: 'origin.c1.example.com',
    originSecret: async () => 'secret',
    region: 'eu-west-1',
    accountId: '123456789012',
    ...overrides,
  });
}

function policyOf(call: number): { Statement: { Sid: string; Effect: string; Principal: unknown; Condition: unknown }[] } {
  const input = s3.commandCalls(PutBucketPolicyCommand)[call]?.args[0].input;
  return JSON.parse(input?.Policy ?? '{}') as { Statement: { Sid: string; Effect: string; Principal: unknown; Condition: unknown }[] };
}

describe('AwsEdge static assets (S3)', () => {
  beforeEach(() => {
    s3.reset();
  });

  it('creates a private, encrypted, owner-enforced bucket in the region that only the multi-tenant distribution may read, over TLS', async () => {
    await edge().ensureStaticAssets(BUCKET);

    expect(s3).toHaveReceivedCommandWith(CreateBucketCommand, {
      Bucket: BUCKET,
      ObjectOwnership: 'BucketOwnerEnforced',
      CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
    });
    expect(s3).toHaveReceivedCommandWith(PutPublicAccessBlockCommand, {
      Bucket: BUCKET,
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
    });
    expect(s3).toHaveReceivedCommandWith(PutBucketOwnershipControlsCommand, {
      Bucket: BUCKET,
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    expect(s3).toHaveReceivedCommandWith(PutBucketEncryptionCommand, {
      Bucket: BUCKET,
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
    expect(policyOf(0).Statement).toEqual([
      expect.objectContaining({ Sid: 'DenyInsecureTransport', Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      {
        Sid: 'AllowCloudFrontRead',
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::${BUCKET}/*`,
        Condition: { StringEquals: { 'AWS:SourceArn': DISTRIBUTION_ARN } },
      },
    ]);
  });

  it('names no location constraint in us-east-1, which refuses one', async () => {
    await edge({ region: 'us-east-1' }).ensureStaticAssets(BUCKET);

    expect(s3.commandCalls(CreateBucketCommand)[0]?.args[0].input.CreateBucketConfiguration).toBeUndefined();
  });

  it('adopts a bucket this account already owns and re-applies its settings', async () => {
    s3.on(CreateBucketCommand).rejects(awsError('BucketAlreadyOwnedByYou', 409));

    await edge().ensureStaticAssets(BUCKET);

    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 1);
    expect(s3).toHaveReceivedCommandTimes(PutBucketPolicyCommand, 1);
  });

  it('in dedicated mode gives a new bucket a TLS-only policy and leaves an adopted one to registerRoute', async () => {
    const dedicated = edge({ mode: 'dedicated', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/wild' });

    await dedicated.ensureStaticAssets(BUCKET);
    s3.on(CreateBucketCommand).rejects(awsError('BucketAlreadyOwnedByYou', 409));
    await dedicated.ensureStaticAssets(BUCKET);

    expect(s3).toHaveReceivedCommandTimes(PutBucketPolicyCommand, 1);
    expect(policyOf(0).Statement.map((statement) => statement.Sid)).toEqual(['DenyInsecureTransport']);
  });

  it('refuses a bucket name another account holds (permanent) and a name that is not a bucket name', async () => {
    s3.on(CreateBucketCommand).rejects(awsError('BucketAlreadyExists', 409));

    await expect(edge().ensureStaticAssets(BUCKET)).rejects.toMatchObject({ name: 'Hostplane.Permanent' });
    await expect(edge().ensureStaticAssets('../etc')).rejects.toMatchObject({ name: 'Hostplane.Validation' });
  });

  it('turns S3 throttling into a transient error', async () => {
    s3.on(CreateBucketCommand).rejects(awsError('SlowDown', 503));

    await expect(edge().ensureStaticAssets(BUCKET)).rejects.toMatchObject({ name: 'Hostplane.Transient' });
  });

  it('empties every version page by page, then deletes the bucket', async () => {
    s3.on(ListObjectVersionsCommand, { Bucket: BUCKET, KeyMarker: undefined, VersionIdMarker: undefined })
      .resolves({
        IsTruncated: true,
        NextKeyMarker: 'b.js',
        NextVersionIdMarker: 'v2',
        Versions: [
          { Key: 'index.html', VersionId: 'null' },
          { Key: 'b.js', VersionId: 'v2' },
        ],
      })
      .on(ListObjectVersionsCommand, { Bucket: BUCKET, KeyMarker: 'b.js', VersionIdMarker: 'v2' })
      .resolves({ IsTruncated: false, Versions: [{ Key: 'b.js', VersionId: 'v1' }], DeleteMarkers: [{ Key: 'old.css', VersionId: 'm1' }] });
    s3.on(DeleteObjectsCommand).resolves({});

    await expect(edge().removeStaticAssets(BUCKET)).resolves.toBe(true);

    expect(s3).toHaveReceivedNthSpecificCommandWith(1, DeleteObjectsCommand, {
      Bucket: BUCKET,
      Delete: { Objects: [{ Key: 'index.html', VersionId: 'null' }, { Key: 'b.js', VersionId: 'v2' }], Quiet: true },
    });
    expect(s3).toHaveReceivedNthSpecificCommandWith(2, DeleteObjectsCommand, {
      Bucket: BUCKET,
      Delete: { Objects: [{ Key: 'b.js', VersionId: 'v1' }, { Key: 'old.css', VersionId: 'm1' }], Quiet: true },
    });
    expect(s3).toHaveReceivedCommandWith(DeleteBucketCommand, { Bucket: BUCKET });
  });

  it('deletes at most 1,000 objects per DeleteObjects call', async () => {
    const versions = Array.from({ length: 1001 }, (_, i) => ({ Key: `f${i}`, VersionId: 'null' }));
    s3.on(ListObjectVersionsCommand).resolves({ IsTruncated: false, Versions: versions });
    s3.on(DeleteObjectsCommand).resolves({});

    await edge().removeStaticAssets(BUCKET);

    expect(s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input.Delete?.Objects?.length)).toEqual([1000, 1]);
  });

  it('says false when the bucket is already gone', async () => {
    s3.on(ListObjectVersionsCommand).rejects(awsError('NoSuchBucket', 404));

    await expect(edge().removeStaticAssets(BUCKET)).resolves.toBe(false);
    expect(s3).toHaveReceivedCommandTimes(DeleteBucketCommand, 0);
  });

  it('fails when objects could not be deleted, transiently for a throttle', async () => {
    s3.on(ListObjectVersionsCommand).resolves({ IsTruncated: false, Versions: [{ Key: 'a', VersionId: 'null' }] });
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'a', Code: 'SlowDown', Message: 'Please reduce your request rate.' }] });

    await expect(edge().removeStaticAssets(BUCKET)).rejects.toMatchObject({ name: 'Hostplane.Transient' });
    expect(s3).toHaveReceivedCommandTimes(DeleteBucketCommand, 0);
  });

  it('tells whether the bucket exists', async () => {
    s3.on(HeadBucketCommand, { Bucket: BUCKET }).resolves({}).on(HeadBucketCommand, { Bucket: 'hp-dev-c1-gone-assets' }).rejects(awsError('NotFound', 404));

    await expect(edge().staticAssetsExist(BUCKET)).resolves.toBe(true);
    await expect(edge().staticAssetsExist('hp-dev-c1-gone-assets')).resolves.toBe(false);
  });

  it('lists the buckets with a prefix across pages, sorted', async () => {
    s3.on(ListBucketsCommand, { Prefix: 'hp-dev-', ContinuationToken: undefined })
      .resolves({ Buckets: [{ Name: 'hp-dev-c1-zeta-assets' }, { Name: 'hp-dev-c1-acme-assets' }], ContinuationToken: 'next' })
      .on(ListBucketsCommand, { Prefix: 'hp-dev-', ContinuationToken: 'next' })
      .resolves({ Buckets: [{ Name: 'hp-dev-c1-beta-assets' }] });

    await expect(edge().listStaticAssets('hp-dev-')).resolves.toEqual(['hp-dev-c1-acme-assets', 'hp-dev-c1-beta-assets', 'hp-dev-c1-zeta-assets']);
  });
});
