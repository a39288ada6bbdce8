import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { Route53Client } from '@aws-sdk/client-route-53';
import { DeleteBucketPolicyCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { RELEASE_METADATA } from '../../cloud/adapters/aws-edge-assets.js';
import { AwsEdge } from '../../cloud/adapters/aws-edge.js';
import { ASSETS_ORIGIN_ID, dedicatedDistributionConfig } from '../../cloud/adapters/aws-edge-distributions.js';
import { IMMUTABLE, REVALIDATE } from '../../lambdas/domain/static-assets.js';
import { MOTO_CLIENT_SETTINGS, startMotoServer, type MotoServer } from '../../rehearsal/emulators/moto-server.js';
import { createTestCertificates, type TestCertificates } from '../../rehearsal/emulators/test-certificates.js';

const REGION = 'eu-west-1';
const RELEASE_A = 'aaaaaaaaaaaaaaaa';
const RELEASE_B = 'bbbbbbbbbbbbbbbb';
/** A release's `public/` folder, as Compile stages it (plus a content-hashed file, as a bundler would name one). */
const FRONT_END_A = {
  'index.html': '<!doctype html><title>A</title><link rel="stylesheet" href="style.css"><script type="module" src="app.js"></script>',
  'app.js': 'console.log("A");\n',
  'style.css': 'body { color: teal; }\n',
  'assets/logo-3f9a1c2b.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
};
const FRONT_END_B = {
  'index.html': '<!doctype html><title>B</title><script type="module" src="app.js"></script>',
  'app.js': new TextEncoder().encode('console.log("B");\n'),
};

describe('the cloud edge publishes a release\'s front end to the tenant\'s bucket (S3 on moto\'s server)', () => {
  let certificates: TestCertificates;
  let moto: MotoServer;
  let s3: S3Client;
  let edge: AwsEdge;
  let bucketNumber = 0;

  /**
   * A fresh tenant bucket, made as CreateStaticAssets makes it, then without its policy: moto 5.2.5
   * answers DENIED for a policy statement whose condition does not match, whatever its effect
   * (`moto/iam/access_control.py`, `IAMPolicyStatement.is_action_permitted`), so the TLS-only Deny
   * would refuse every write that AWS allows over TLS.
   */
  async function newBucket(): Promise<string> {
    bucketNumber += 1;
    const bucket = `hp-dev-c1-tenant${bucketNumber}-assets`;
    await edge.ensureStaticAssets(bucket);
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    return bucket;
  }

  /** What a GET of the object CloudFront would ask for answers: body, type, caching, release. */
  async function fetchObject(bucket: string, key: string) {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return {
      body: await object.Body!.transformToString(),
      contentType: object.ContentType,
      cacheControl: object.CacheControl,
      release: object.Metadata?.[RELEASE_METADATA],
    };
  }

  async function keysOf(bucket: string): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (listed.Contents ?? []).map((object) => object.Key!).sort();
  }

  beforeAll(async () => {
    // Over TLS, as the adapter reaches S3 (the buckets' policy denies anything else).
    certificates = await createTestCertificates();
    moto = await startMotoServer({ tls: certificates });
    const httpsAgent = new Agent({ ca: await readFile(certificates.caFile) });
    const settings = { ...MOTO_CLIENT_SETTINGS, region: REGION, endpoint: moto.endpoint, requestHandler: { httpsAgent } };
    s3 = new S3Client({ ...settings, forcePathStyle: true });
    edge = new AwsEdge({
      s3,
      // Not called by the asset methods; pointed at moto so that a stray call fails there, never at AWS.
      cloudFront: new CloudFrontClient(settings),
      route53: new Route53Client(settings),
      domain: 'apps.example.com',
      hostedZoneId: 'ZZONE',
      namePrefix: 'hp-dev-c1',
      multiTenantDistributionId: 'EMULTI',
      albDomainName: 'origin.c1.example.com',
      originSecret: async () => 'secret',
      region: REGION,
      accountId: '123456789012',
    });
  }, 60_000);

  afterAll(async () => {
    s3?.destroy();
    await moto?.stop();
    await certificates?.remove();
  });

  it('writes each file at the key the front requests, with its Content-Type and Cache-Control', async () => {
    const bucket = await newBucket();

    const published = await edge.publishStaticAssets(bucket, RELEASE_A, FRONT_END_A);

    expect(published).toEqual({ releaseId: RELEASE_A, written: 4, removed: 0 });
    expect(await keysOf(bucket)).toEqual(['app.js', 'assets/logo-3f9a1c2b.svg', 'index.html', 'style.css']);
    expect(await fetchObject(bucket, 'index.html')).toEqual({
      body: FRONT_END_A['index.html'],
      contentType: 'text/html; charset=utf-8',
      cacheControl: REVALIDATE,
      release: RELEASE_A,
    });
    expect(await fetchObject(bucket, 'app.js')).toMatchObject({ body: FRONT_END_A['app.js'], contentType: 'text/javascript; charset=utf-8', cacheControl: REVALIDATE });
    expect(await fetchObject(bucket, 'style.css')).toMatchObject({ contentType: 'text/css; charset=utf-8', cacheControl: REVALIDATE });
    expect(await fetchObject(bucket, 'assets/logo-3f9a1c2b.svg')).toMatchObject({ contentType: 'image/svg+xml', cacheControl: IMMUTABLE });
  });

  it('is read by the distribution at those keys: `/` is index.html, no origin path', () => {
    const config = dedicatedDistributionConfig({
      callerReference: 'hp-dev-c1-acme',
      comment: 'hostplane:hp-dev-c1:acme',
      alias: 'acme.apps.example.com',
      certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/x',
      assetsDomain: `hp-dev-c1-tenant1-assets.s3.${REGION}.amazonaws.com`,
      originAccessControlId: 'OAC',
      albDomainName: 'origin.c1.example.com',
      albOriginProtocol: 'https-only',
      originSecret: 'secret',
      viewerRequestFunctionArn: 'arn:request',
      viewerResponseFunctionArn: 'arn:response',
    });
    const assetsOrigin = config.Origins?.Items?.find((origin) => origin.Id === ASSETS_ORIGIN_ID);

    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.DefaultCacheBehavior?.TargetOriginId).toBe(ASSETS_ORIGIN_ID);
    expect(assetsOrigin?.OriginPath ?? '').toBe('');
  });

  it('replaces an earlier release\'s front end, removing what the new one lacks; publishing the earlier one again restores it', async () => {
    const bucket = await newBucket();
    await edge.publishStaticAssets(bucket, RELEASE_A, FRONT_END_A);

    const deployed = await edge.publishStaticAssets(bucket, RELEASE_B, FRONT_END_B);
    const afterDeploy = { keys: await keysOf(bucket), index: await fetchObject(bucket, 'index.html'), app: await fetchObject(bucket, 'app.js') };
    const rolledBack = await edge.publishStaticAssets(bucket, RELEASE_A, FRONT_END_A);
    const afterRollback = { keys: await keysOf(bucket), index: await fetchObject(bucket, 'index.html'), logo: await fetchObject(bucket, 'assets/logo-3f9a1c2b.svg') };

    expect(deployed).toEqual({ releaseId: RELEASE_B, written: 2, removed: 2 });
    expect(afterDeploy.keys).toEqual(['app.js', 'index.html']);
    expect(afterDeploy.index).toMatchObject({ body: FRONT_END_B['index.html'], release: RELEASE_B });
    expect(afterDeploy.app).toMatchObject({ body: 'console.log("B");\n', release: RELEASE_B });
    expect(rolledBack).toEqual({ releaseId: RELEASE_A, written: 4, removed: 0 });
    expect(afterRollback.keys).toEqual(['app.js', 'assets/logo-3f9a1c2b.svg', 'index.html', 'style.css']);
    expect(afterRollback.index).toMatchObject({ body: FRONT_END_A['index.html'], release: RELEASE_A });
    expect(afterRollback.logo).toMatchObject({ body: FRONT_END_A['assets/logo-3f9a1c2b.svg'], cacheControl: IMMUTABLE });
  });

  it('gives the same end state when run twice', async () => {
    const bucket = await newBucket();
    await edge.publishStaticAssets(bucket, RELEASE_A, FRONT_END_A);

    const again = await edge.publishStaticAssets(bucket, RELEASE_A, FRONT_END_A);

    expect(again).toEqual({ releaseId: RELEASE_A, written: 4, removed: 0 });
    expect(await keysOf(bucket)).toEqual(['app.js', 'assets/logo-3f9a1c2b.svg', 'index.html', 'style.css']);
  });

  it('refuses a path that is not plain or that /api/* would shadow, and a bad release id, before writing anything', async () => {
    const bucket = await newBucket();

    await expect(edge.publishStaticAssets(bucket, RELEASE_A, { 'index.html': 'x', '../escape.js': 'x' })).rejects.toThrow('is not a safe relative path');
    await expect(edge.publishStaticAssets(bucket, RELEASE_A, { 'api/book': '[]' })).rejects.toThrow('is under api/');
    await expect(edge.publishStaticAssets(bucket, 'not-a-release', FRONT_END_A)).rejects.toThrow('releaseId');
    expect(await keysOf(bucket)).toEqual([]);
  });

  it('fails permanently, naming the bucket, when the tenant has no bucket', async () => {
    const missing = 'hp-dev-c1-nobody-assets';

    const failure = edge.publishStaticAssets(missing, RELEASE_A, FRONT_END_A);

    await expect(failure).rejects.toMatchObject({ name: 'Hostplane.Permanent', message: expect.stringContaining(`bucket ${missing}`) });
  });

  it('removes a published front end with the bucket on deprovision', async () => {
    const bucket = await newBucket();
    await edge.publishStaticAssets(bucket, RELEASE_A, FRONT_END_A);

    const removed = await edge.removeStaticAssets(bucket);

    expect(removed).toBe(true);
    expect(await edge.staticAssetsExist(bucket)).toBe(false);
    expect(await edge.removeStaticAssets(bucket)).toBe(false);
  });
});
