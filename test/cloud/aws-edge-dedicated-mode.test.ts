import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  CloudFrontClient,
  CreateDistributionWithTagsCommand,
  CreateFunctionCommand,
  CreateOriginAccessControlCommand,
  DeleteDistributionCommand,
  DeleteFunctionCommand,
  DescribeFunctionCommand,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  ListDistributionsCommand,
  ListOriginAccessControlsCommand,
  ListTagsForResourceCommand,
  PublishFunctionCommand,
  TagResourceCommand,
  UpdateDistributionCommand,
  UpdateFunctionCommand,
  type Distribution,
  type DistributionConfig,
} from '@aws-sdk/client-cloudfront';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AwsEdge, type AwsEdgeOptions } from '../../cloud/adapters/aws-edge.js';
import type { TenantRoute } from '../../lambdas/ports/edge.js';

const cloudFront = mockClient(CloudFrontClient);
const route53 = mockClient(Route53Client);
const s3 = mockClient(S3Client);

const ROUTE: TenantRoute = { tenantId: 'acme', hostLabel: 'acme', endpoint: 'acme.hp-dev-c1.hostplane.local:8080', assetsBucket: 'hp-dev-c1-acme-assets' };
const CERTIFICATE = 'arn:aws:acm:us-east-1:123456789012:certificate/wildcard';
const SOURCES = {
  viewerRequest: "import cf from 'cloudfront';\nvar DEDICATED_TENANT_ID = '__HOSTPLANE_TENANT_ID__';\nfunction handler(e) { return e.request; }\n",
  viewerResponse: 'function handler(e) { return e.response; }\n',
};
const DISTRIBUTION: Distribution = {
  Id: 'EACME',
  ARN: 'arn:aws:cloudfront::123456789012:distribution/EACME',
  DomainName: 'd2222.cloudfront.net',
  Status: 'InProgress',
  LastModifiedTime: new Date(0),
  InProgressInvalidationBatches: 0,
  DistributionConfig: undefined,
};
const SUMMARY = { Id: 'EACME', ARN: DISTRIBUTION.ARN, DomainName: DISTRIBUTION.DomainName, Comment: 'hostplane:hp-dev-c1:acme' };

function awsError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} (test)`), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

function functionSummary(name: string) {
  return { FunctionSummary: { Name: name, FunctionConfig: undefined, FunctionMetadata: { FunctionARN: `arn:aws:cloudfront::123456789012:function/${name}`, LastModifiedTime: new Date(0) } } };
}

function edge(overrides: Partial<AwsEdgeOptions> = {}): { edge: AwsEdge; sleeps: number[] } {
  const sleeps: number[] = [];
  const instance = new AwsEdge({
    s3: new S3Client({ region: 'eu-west-1' }),
    cloudFront: new CloudFrontClient({ region: 'us-east-1' }),
    route53: new Route53Client({ region: 'us-east-1' }),
    mode: 'dedicated',
    domain: 'apps.example.com',
    hostedZoneId: 'ZZONE',
    namePrefix: 'hp-dev-c1',
    certificateArn: CERTIFICATE,
    albDomainName: 'origin.c1.example.com',
    originSecret: async () => 'verify-me',
    region: 'eu-west-1',
    accountId: '123456789012',
    functionSources: async () => SOURCES,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return { edge: instance, sleeps };
}

describe('AwsEdge in dedicated mode (a standard distribution per tenant)', () => {
  beforeEach(() => {
    cloudFront.reset();
    route53.reset();
    s3.reset();
    cloudFront.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: 0, Items: [] } });
    cloudFront.on(CreateOriginAccessControlCommand).resolves({ OriginAccessControl: { Id: 'OAC1' } });
    cloudFront.on(CreateFunctionCommand).resolves({ ETag: 'F1' });
    cloudFront.on(PublishFunctionCommand).callsFake((input: { Name: string }) => functionSummary(input.Name));
    cloudFront.on(ListDistributionsCommand).resolves({ DistributionList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: 0, Items: [] } });
    route53.on(ChangeResourceRecordSetsCommand).resolves({});
  });

  it('creates the OAC, the tenant viewer-request function with its id, the security-headers function and a tagged distribution, then lets it read the bucket and points DNS at it', async () => {
    cloudFront.on(CreateDistributionWithTagsCommand).resolves({ Distribution: DISTRIBUTION, ETag: 'D1' });

    await expect(edge().edge.registerRoute(ROUTE)).resolves.toEqual({ url: 'https://acme.apps.example.com/' });

    expect(cloudFront).toHaveReceivedCommandWith(CreateOriginAccessControlCommand, {
      OriginAccessControlConfig: {
        Name: 'hp-dev-c1-assets',
        Description: 'Hostplane: CloudFront reads tenant asset buckets',
        SigningProtocol: 'sigv4',
        SigningBehavior: 'always',
        OriginAccessControlOriginType: 's3',
      },
    });
    const request = cloudFront.commandCalls(CreateFunctionCommand, { Name: 'hp-dev-c1-acme-request' })[0]?.args[0].input;
    expect(request?.FunctionConfig).toEqual({ Comment: 'Hostplane: x-tenant-id acme', Runtime: 'cloudfront-js-2.0' });
    expect(new TextDecoder().decode(request?.FunctionCode)).toContain("var DEDICATED_TENANT_ID = 'acme';");
    expect(cloudFront).toHaveReceivedCommandWith(CreateFunctionCommand, { Name: 'hp-dev-c1-security-headers' });
    expect(cloudFront).toHaveReceivedCommandWith(PublishFunctionCommand, { Name: 'hp-dev-c1-acme-request', IfMatch: 'F1' });

    const input = cloudFront.commandCalls(CreateDistributionWithTagsCommand)[0]?.args[0].input;
    const config = input?.DistributionConfigWithTags?.DistributionConfig as DistributionConfig;
    expect(input?.DistributionConfigWithTags?.Tags?.Items).toContainEqual({ Key: 'hostplane:tenant', Value: 'acme' });
    expect(config).toMatchObject({
      CallerReference: 'hp-dev-c1-acme',
      Comment: 'hostplane:hp-dev-c1:acme',
      Enabled: true,
      Aliases: { Quantity: 1, Items: ['acme.apps.example.com'] },
      ViewerCertificate: { ACMCertificateArn: CERTIFICATE, SSLSupportMethod: 'sni-only', MinimumProtocolVersion: 'TLSv1.2_2021' },
      DefaultRootObject: 'index.html',
    });
    expect(config.Origins?.Items).toEqual([
      { Id: 'assets', DomainName: 'hp-dev-c1-acme-assets.s3.eu-west-1.amazonaws.com', OriginAccessControlId: 'OAC1', S3OriginConfig: { OriginAccessIdentity: '' } },
      expect.objectContaining({
        Id: 'app',
        DomainName: 'origin.c1.example.com',
        CustomHeaders: { Quantity: 1, Items: [{ HeaderName: 'x-origin-verify', HeaderValue: 'verify-me' }] },
        CustomOriginConfig: expect.objectContaining({ OriginProtocolPolicy: 'https-only' }),
      }),
    ]);
    const functions = {
      Quantity: 2,
      Items: [
        { EventType: 'viewer-request', FunctionARN: 'arn:aws:cloudfront::123456789012:function/hp-dev-c1-acme-request' },
        { EventType: 'viewer-response', FunctionARN: 'arn:aws:cloudfront::123456789012:function/hp-dev-c1-security-headers' },
      ],
    };
    expect(config.DefaultCacheBehavior).toMatchObject({
      TargetOriginId: 'assets',
      ViewerProtocolPolicy: 'redirect-to-https',
      CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6',
      FunctionAssociations: functions,
    });
    expect(config.CacheBehaviors?.Items?.[0]).toMatchObject({
      PathPattern: '/api/*',
      TargetOriginId: 'app',
      CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
      OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
      AllowedMethods: { Quantity: 7 },
      FunctionAssociations: functions,
    });

    const policy = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]?.args[0].input.Policy ?? '{}') as { Statement: { Condition: unknown }[] };
    expect(policy.Statement[1]?.Condition).toEqual({ StringEquals: { 'AWS:SourceArn': DISTRIBUTION.ARN } });
    expect(route53).toHaveReceivedCommandWith(ChangeResourceRecordSetsCommand, {
      ChangeBatch: expect.objectContaining({
        Changes: [
          expect.objectContaining({ Action: 'UPSERT', ResourceRecordSet: expect.objectContaining({ Type: 'A', AliasTarget: expect.objectContaining({ DNSName: 'd2222.cloudfront.net' }) }) }),
          expect.objectContaining({ Action: 'UPSERT', ResourceRecordSet: expect.objectContaining({ Type: 'AAAA' }) }),
        ],
      }),
    });
  });

  it('adopts what exists: the OAC by name, functions by update with their ETag, the distribution by update keeping its caller reference', async () => {
    cloudFront.on(ListOriginAccessControlsCommand).resolves({
      OriginAccessControlList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: 1, Items: [{ Id: 'OAC9', Name: 'hp-dev-c1-assets', Description: '', SigningProtocol: 'sigv4', SigningBehavior: 'always', OriginAccessControlOriginType: 's3' }] },
    });
    cloudFront.on(CreateFunctionCommand).rejects(awsError('FunctionAlreadyExists', 409));
    cloudFront.on(DescribeFunctionCommand).resolves({ ETag: 'F7' });
    cloudFront.on(UpdateFunctionCommand).resolves({ ETag: 'F8' });
    cloudFront
      .on(ListDistributionsCommand)
      .resolvesOnce({ DistributionList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: 0, Items: [] } })
      .resolves({ DistributionList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: 1, Items: [SUMMARY as never] } });
    cloudFront.on(CreateDistributionWithTagsCommand).rejects(awsError('DistributionAlreadyExists', 409));
    cloudFront.on(GetDistributionConfigCommand).resolves({ ETag: 'D5', DistributionConfig: { CallerReference: 'original-ref' } as DistributionConfig });
    cloudFront.on(UpdateDistributionCommand).resolves({ Distribution: DISTRIBUTION, ETag: 'D6' });

    await edge().edge.registerRoute(ROUTE);

    expect(cloudFront).toHaveReceivedCommandTimes(CreateOriginAccessControlCommand, 0);
    expect(cloudFront).toHaveReceivedCommandWith(DescribeFunctionCommand, { Name: 'hp-dev-c1-acme-request', Stage: 'DEVELOPMENT' });
    expect(cloudFront).toHaveReceivedCommandWith(UpdateFunctionCommand, { Name: 'hp-dev-c1-acme-request', IfMatch: 'F7' });
    expect(cloudFront).toHaveReceivedCommandWith(PublishFunctionCommand, { Name: 'hp-dev-c1-acme-request', IfMatch: 'F8' });
    expect(cloudFront).toHaveReceivedCommandWith(UpdateDistributionCommand, {
      Id: 'EACME',
      IfMatch: 'D5',
      DistributionConfig: expect.objectContaining({ CallerReference: 'original-ref', Comment: 'hostplane:hp-dev-c1:acme' }),
    });
    expect(cloudFront).toHaveReceivedCommandWith(TagResourceCommand, { Resource: DISTRIBUTION.ARN });
  });

  it('reports a distribution changed under it (PreconditionFailed) as transient', async () => {
    cloudFront.on(ListDistributionsCommand).resolves({ DistributionList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: 1, Items: [SUMMARY as never] } });
    cloudFront.on(GetDistributionConfigCommand).resolves({ ETag: 'D5', DistributionConfig: { CallerReference: 'r' } as DistributionConfig });
    cloudFront.on(UpdateDistributionCommand).rejects(awsError('PreconditionFailed', 412));

    await expect(edge().edge.registerRoute(ROUTE)).rejects.toMatchObject({ name: 'Hostplane.Transient' });
  });

  it('removes a route: disables the distribution, waits until deployed, deletes it, then its function and DNS records', async () => {
    cloudFront.on(ListDistributionsCommand).resolves({ DistributionList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: 1, Items: [SUMMARY as never] } });
    cloudFront.on(GetDistributionConfigCommand).resolves({ ETag: 'D1', DistributionConfig: { CallerReference: 'r', Enabled: true } as DistributionConfig });
    cloudFront.on(UpdateDistributionCommand).resolves({ ETag: 'D2' });
    cloudFront
      .on(GetDistributionCommand)
      .resolvesOnce({ Distribution: DISTRIBUTION, ETag: 'D2' })
      .resolves({ Distribution: { ...DISTRIBUTION, Status: 'Deployed' }, ETag: 'D3' });
    cloudFront.on(DeleteDistributionCommand).resolves({});
    cloudFront.on(DescribeFunctionCommand).resolves({ ETag: 'F4' });
    cloudFront.on(DeleteFunctionCommand).resolves({});
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false, MaxItems: 2 });
    const { edge: instance, sleeps } = edge({ pollIntervalMs: 5_000 });

    await expect(instance.removeRoute('acme')).resolves.toBe(true);

    expect(cloudFront).toHaveReceivedCommandWith(UpdateDistributionCommand, { Id: 'EACME', IfMatch: 'D1', DistributionConfig: { CallerReference: 'r', Enabled: false } });
    expect(sleeps).toEqual([5_000]);
    expect(cloudFront).toHaveReceivedCommandWith(DeleteDistributionCommand, { Id: 'EACME', IfMatch: 'D3' });
    expect(cloudFront).toHaveReceivedCommandWith(DeleteFunctionCommand, { Name: 'hp-dev-c1-acme-request', IfMatch: 'F4' });
  });

  it('says false for a missing route and still removes nothing else', async () => {
    cloudFront.on(DescribeFunctionCommand).rejects(awsError('NoSuchFunctionExists', 404));
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false, MaxItems: 2 });

    await expect(edge().edge.removeRoute('acme')).resolves.toBe(false);

    expect(cloudFront).toHaveReceivedCommandTimes(DeleteDistributionCommand, 0);
    expect(cloudFront).toHaveReceivedCommandTimes(DeleteFunctionCommand, 0);
  });

  it('treats a function still attached to a deleting distribution (FunctionInUse) as transient', async () => {
    cloudFront.on(DescribeFunctionCommand).resolves({ ETag: 'F4' });
    cloudFront.on(DeleteFunctionCommand).rejects(awsError('FunctionInUse', 409));

    await expect(edge().edge.removeRoute('acme')).rejects.toMatchObject({ name: 'Hostplane.Transient' });
  });

  it('reads routes back from the tags of distributions with its comment', async () => {
    cloudFront.on(ListDistributionsCommand).resolves({
      DistributionList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: 2, Items: [SUMMARY as never, { ...SUMMARY, Id: 'EX', Comment: 'not ours' } as never] },
    });
    cloudFront.on(ListTagsForResourceCommand).resolves({
      Tags: {
        Items: [
          { Key: 'hostplane:tenant', Value: 'acme' },
          { Key: 'hostplane:host-label', Value: 'acme' },
          { Key: 'hostplane:endpoint', Value: ROUTE.endpoint },
          { Key: 'hostplane:assets-bucket', Value: ROUTE.assetsBucket },
        ],
      },
    });

    await expect(edge().edge.listRoutes()).resolves.toEqual([ROUTE]);
    await expect(edge().edge.getRoute('acme')).resolves.toEqual(ROUTE);
    expect(cloudFront).toHaveReceivedCommandWith(ListTagsForResourceCommand, { Resource: DISTRIBUTION.ARN });
  });

  it('needs a certificate for the alias in dedicated mode', () => {
    expect(() => edge({ certificateArn: undefined })).toThrow(/certificateArn/);
  });
});
