import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  CloudFrontClient,
  CreateDistributionTenantCommand,
  DeleteDistributionTenantCommand,
  GetConnectionGroupCommand,
  GetDistributionTenantCommand,
  ListDistributionTenantsCommand,
  TagResourceCommand,
  UpdateDistributionTenantCommand,
  type DistributionTenant,
} from '@aws-sdk/client-cloudfront';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AwsEdge, type AwsEdgeOptions } from '../../cloud/adapters/aws-edge.js';
import type { TenantRoute } from '../../lambdas/ports/edge.js';

const cloudFront = mockClient(CloudFrontClient);
const route53 = mockClient(Route53Client);

const ROUTE: TenantRoute = { tenantId: 'acme', hostLabel: 'acme', endpoint: 'acme.hp-dev-c1.hostplane.local:8080', assetsBucket: 'hp-dev-c1-acme-assets' };
const TAGS = [
  { Key: 'hostplane:tenant', Value: 'acme' },
  { Key: 'hostplane:host-label', Value: 'acme' },
  { Key: 'hostplane:endpoint', Value: ROUTE.endpoint },
  { Key: 'hostplane:assets-bucket', Value: ROUTE.assetsBucket },
];
const TENANT: DistributionTenant = {
  Id: 'dt_acme',
  Arn: 'arn:aws:cloudfront::123456789012:distribution-tenant/dt_acme',
  Name: 'hp-dev-c1-acme',
  DistributionId: 'EMULTI',
  ConnectionGroupId: 'cg_default',
  Domains: [{ Domain: 'acme.apps.example.com', Status: 'active' }],
  Parameters: [{ Name: 'tenantId', Value: 'acme' }, { Name: 'assetsBucket', Value: ROUTE.assetsBucket }],
  Tags: { Items: TAGS },
  Enabled: true,
  Status: 'Deployed',
};

function awsError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} (test)`), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

function edge(overrides: Partial<AwsEdgeOptions> = {}): { edge: AwsEdge; sleeps: number[] } {
  const sleeps: number[] = [];
  let clock = 0;
  const instance = new AwsEdge({
    s3: new S3Client({ region: 'eu-west-1' }),
    cloudFront: new CloudFrontClient({ region: 'us-east-1' }),
    route53: new Route53Client({ region: 'us-east-1' }),
    domain: 'apps.example.com',
    hostedZoneId: 'ZZONE',
    namePrefix: 'hp-dev-c1',
    multiTenantDistributionId: 'EMULTI',
    albDomainName: 'origin.c1.example.com',
    originSecret: async () => 'secret',
    region: 'eu-west-1',
    accountId: '123456789012',
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
    waitTimeoutMs: 60_000,
    pollIntervalMs: 10_000,
    ...overrides,
  });
  return { edge: instance, sleeps };
}

describe('AwsEdge in tenant mode (distribution tenants of the multi-tenant distribution)', () => {
  beforeEach(() => {
    cloudFront.reset();
    route53.reset();
    cloudFront.on(GetConnectionGroupCommand).resolves({ ConnectionGroup: { Id: 'cg_default', RoutingEndpoint: 'd111111abcdef8.cloudfront.net' } });
    route53.on(ChangeResourceRecordSetsCommand).resolves({});
  });

  it('creates the distribution tenant with its domain, parameters and tags, points A and AAAA at its routing endpoint and returns the https URL', async () => {
    cloudFront.on(CreateDistributionTenantCommand).resolves({ DistributionTenant: TENANT, ETag: 'E1' });

    const result = await edge().edge.registerRoute(ROUTE);

    expect(result).toEqual({ url: 'https://acme.apps.example.com/' });
    expect(cloudFront).toHaveReceivedCommandWith(CreateDistributionTenantCommand, {
      DistributionId: 'EMULTI',
      Name: 'hp-dev-c1-acme',
      Domains: [{ Domain: 'acme.apps.example.com' }],
      Parameters: [
        { Name: 'tenantId', Value: 'acme' },
        { Name: 'assetsBucket', Value: 'hp-dev-c1-acme-assets' },
      ],
      ConnectionGroupId: undefined,
      Tags: { Items: TAGS },
      Enabled: true,
    });
    expect(cloudFront).toHaveReceivedCommandWith(GetConnectionGroupCommand, { Identifier: 'cg_default' });
    expect(route53).toHaveReceivedCommandWith(ChangeResourceRecordSetsCommand, {
      HostedZoneId: 'ZZONE',
      ChangeBatch: {
        Comment: 'hostplane: acme.apps.example.com',
        Changes: ['A', 'AAAA'].map((type) => ({
          Action: 'UPSERT',
          ResourceRecordSet: {
            Name: 'acme.apps.example.com',
            Type: type,
            AliasTarget: { HostedZoneId: 'Z2FDTNDATAQYW2', DNSName: 'd111111abcdef8.cloudfront.net', EvaluateTargetHealth: false },
          },
        })),
      },
    });
  });

  it('uses the configured connection group', async () => {
    cloudFront.on(CreateDistributionTenantCommand).resolves({ DistributionTenant: { ...TENANT, ConnectionGroupId: 'cg_cell' } });

    await edge({ connectionGroupId: 'cg_cell' }).edge.registerRoute(ROUTE);

    expect(cloudFront).toHaveReceivedCommandWith(CreateDistributionTenantCommand, { ConnectionGroupId: 'cg_cell' });
    expect(cloudFront).toHaveReceivedCommandWith(GetConnectionGroupCommand, { Identifier: 'cg_cell' });
  });

  it('adopts an existing tenant of the same name: updates it with its ETag and re-tags it', async () => {
    cloudFront.on(CreateDistributionTenantCommand).rejects(awsError('EntityAlreadyExists', 409));
    cloudFront.on(GetDistributionTenantCommand).resolves({ DistributionTenant: { ...TENANT, Enabled: false }, ETag: 'E7' });
    cloudFront.on(UpdateDistributionTenantCommand).resolves({ DistributionTenant: TENANT, ETag: 'E8' });

    await edge().edge.registerRoute(ROUTE);

    expect(cloudFront).toHaveReceivedCommandWith(GetDistributionTenantCommand, { Identifier: 'hp-dev-c1-acme' });
    expect(cloudFront).toHaveReceivedCommandWith(UpdateDistributionTenantCommand, {
      Id: 'dt_acme',
      IfMatch: 'E7',
      DistributionId: 'EMULTI',
      Domains: [{ Domain: 'acme.apps.example.com' }],
      Parameters: TENANT.Parameters,
      ConnectionGroupId: 'cg_default',
      Enabled: true,
    });
    expect(cloudFront).toHaveReceivedCommandWith(TagResourceCommand, { Resource: TENANT.Arn, Tags: { Items: TAGS } });
    expect(route53).toHaveReceivedCommandTimes(ChangeResourceRecordSetsCommand, 1);
  });

  it('reports a concurrent change (PreconditionFailed) as transient', async () => {
    cloudFront.on(CreateDistributionTenantCommand).rejects(awsError('EntityAlreadyExists', 409));
    cloudFront.on(GetDistributionTenantCommand).resolves({ DistributionTenant: TENANT, ETag: 'E7' });
    cloudFront.on(UpdateDistributionTenantCommand).rejects(awsError('PreconditionFailed', 412));

    await expect(edge().edge.registerRoute(ROUTE)).rejects.toMatchObject({ name: 'Hostplane.Transient' });
    expect(route53).toHaveReceivedCommandTimes(ChangeResourceRecordSetsCommand, 0);
  });

  it('refuses to adopt a tenant of the same name that belongs to another distribution', async () => {
    cloudFront.on(CreateDistributionTenantCommand).rejects(awsError('EntityAlreadyExists', 409));
    cloudFront.on(GetDistributionTenantCommand).resolves({ DistributionTenant: { ...TENANT, DistributionId: 'EOTHER' }, ETag: 'E7' });

    await expect(edge().edge.registerRoute(ROUTE)).rejects.toMatchObject({ name: 'Hostplane.Conflict' });
    expect(cloudFront).toHaveReceivedCommandTimes(UpdateDistributionTenantCommand, 0);
  });

  it('turns throttling into a transient error and a taken domain into a permanent one', async () => {
    cloudFront.on(CreateDistributionTenantCommand).rejectsOnce(awsError('Throttling', 400)).rejects(awsError('CNAMEAlreadyExists', 409));

    await expect(edge().edge.registerRoute(ROUTE)).rejects.toMatchObject({ name: 'Hostplane.Transient' });
    await expect(edge().edge.registerRoute(ROUTE)).rejects.toMatchObject({ name: 'Hostplane.Permanent' });
  });

  it('refuses an invalid route before calling AWS', async () => {
    await expect(edge().edge.registerRoute({ ...ROUTE, hostLabel: 'Not A Label' })).rejects.toMatchObject({ name: 'Hostplane.Validation' });
    expect(cloudFront).toHaveReceivedCommandTimes(CreateDistributionTenantCommand, 0);
  });

  it('removes a tenant: disables it, waits for the deploy, deletes it with the latest ETag, then deletes its DNS records', async () => {
    cloudFront
      .on(GetDistributionTenantCommand)
      .resolvesOnce({ DistributionTenant: TENANT, ETag: 'E1' })
      .resolvesOnce({ DistributionTenant: { ...TENANT, Enabled: false, Status: 'InProgress' }, ETag: 'E2' })
      .resolves({ DistributionTenant: { ...TENANT, Enabled: false, Status: 'Deployed' }, ETag: 'E2' });
    cloudFront.on(UpdateDistributionTenantCommand).resolves({ ETag: 'E2' });
    cloudFront.on(DeleteDistributionTenantCommand).resolves({});
    const records = ['A', 'AAAA'].map((type) => ({
      Name: 'acme.apps.example.com.',
      Type: type as 'A' | 'AAAA',
      AliasTarget: { HostedZoneId: 'Z2FDTNDATAQYW2', DNSName: 'd111111abcdef8.cloudfront.net.', EvaluateTargetHealth: false },
    }));
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: records, IsTruncated: false, MaxItems: 2 });
    const { edge: instance, sleeps } = edge();

    await expect(instance.removeRoute('acme')).resolves.toBe(true);

    expect(cloudFront).toHaveReceivedCommandWith(UpdateDistributionTenantCommand, { Id: 'dt_acme', IfMatch: 'E1', Enabled: false });
    expect(sleeps).toEqual([10_000]);
    expect(cloudFront).toHaveReceivedCommandWith(DeleteDistributionTenantCommand, { Id: 'dt_acme', IfMatch: 'E2' });
    expect(route53).toHaveReceivedCommandWith(ListResourceRecordSetsCommand, {
      HostedZoneId: 'ZZONE',
      StartRecordName: 'acme.apps.example.com.',
      StartRecordType: 'A',
    });
    expect(route53).toHaveReceivedCommandWith(ChangeResourceRecordSetsCommand, {
      HostedZoneId: 'ZZONE',
      ChangeBatch: { Comment: 'hostplane: acme.apps.example.com', Changes: records.map((record) => ({ Action: 'DELETE', ResourceRecordSet: record })) },
    });
  });

  it('says false for a route that is not there, and deletes nothing', async () => {
    cloudFront.on(GetDistributionTenantCommand).rejects(awsError('EntityNotFound', 404));
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [{ Name: 'other.apps.example.com.', Type: 'A' }], IsTruncated: false, MaxItems: 2 });

    await expect(edge().edge.removeRoute('acme')).resolves.toBe(false);

    expect(cloudFront).toHaveReceivedCommandTimes(DeleteDistributionTenantCommand, 0);
    expect(route53).toHaveReceivedCommandTimes(ChangeResourceRecordSetsCommand, 0);
  });

  it('gives up waiting with a transient error while the disable is still deploying (a rerun resumes)', async () => {
    cloudFront.on(GetDistributionTenantCommand).resolves({ DistributionTenant: { ...TENANT, Enabled: false, Status: 'InProgress' }, ETag: 'E2' });

    await expect(edge().edge.removeRoute('acme')).rejects.toMatchObject({ name: 'Hostplane.Transient' });

    expect(cloudFront).toHaveReceivedCommandTimes(UpdateDistributionTenantCommand, 0);
    expect(cloudFront).toHaveReceivedCommandTimes(DeleteDistributionTenantCommand, 0);
  });

  it('treats a tenant deleted by a concurrent run as removed', async () => {
    cloudFront.on(GetDistributionTenantCommand).resolves({ DistributionTenant: { ...TENANT, Enabled: false }, ETag: 'E2' });
    cloudFront.on(DeleteDistributionTenantCommand).rejects(awsError('EntityNotFound', 404));
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false, MaxItems: 2 });

    await expect(edge().edge.removeRoute('acme')).resolves.toBe(true);
  });

  it('reads a route back from its tenant, and only from this distribution', async () => {
    cloudFront
      .on(GetDistributionTenantCommand, { Identifier: 'hp-dev-c1-acme' })
      .resolves({ DistributionTenant: TENANT, ETag: 'E1' })
      .on(GetDistributionTenantCommand, { Identifier: 'hp-dev-c1-other' })
      .resolves({ DistributionTenant: { ...TENANT, DistributionId: 'EOTHER' }, ETag: 'E1' });

    await expect(edge().edge.getRoute('acme')).resolves.toEqual(ROUTE);
    await expect(edge().edge.getRoute('other')).resolves.toBeUndefined();
  });

  it('lists the routes of this distribution across pages, sorted by host label', async () => {
    const summary = (name: string) => ({ Id: `dt_${name}`, Name: name, DistributionId: 'EMULTI', Arn: 'arn', Domains: [], CreatedTime: new Date(), LastModifiedTime: new Date(), ETag: 'E' });
    cloudFront
      .on(ListDistributionTenantsCommand, { Marker: undefined })
      .resolves({ DistributionTenantList: [summary('hp-dev-c1-zeta'), summary('someone-else')], NextMarker: 'm2' })
      .on(ListDistributionTenantsCommand, { Marker: 'm2' })
      .resolves({ DistributionTenantList: [summary('hp-dev-c1-acme')] });
    const zeta = { ...ROUTE, tenantId: 'zeta', hostLabel: 'zeta' };
    cloudFront
      .on(GetDistributionTenantCommand, { Identifier: 'hp-dev-c1-acme' })
      .resolves({ DistributionTenant: TENANT })
      .on(GetDistributionTenantCommand, { Identifier: 'hp-dev-c1-zeta' })
      .resolves({
        DistributionTenant: {
          ...TENANT,
          Tags: { Items: TAGS.map((tag) => (tag.Key === 'hostplane:tenant' || tag.Key === 'hostplane:host-label' ? { ...tag, Value: 'zeta' } : tag)) },
        },
      });

    await expect(edge().edge.listRoutes()).resolves.toEqual([ROUTE, zeta]);
    expect(cloudFront).toHaveReceivedCommandWith(ListDistributionTenantsCommand, { AssociationFilter: { DistributionId: 'EMULTI' } });
    expect(cloudFront).toHaveReceivedCommandTimes(GetDistributionTenantCommand, 2);
  });

  it('builds URLs without calling AWS, and drops no connections in the cloud', async () => {
    const { edge: instance } = edge();

    expect(instance.urlFor('acme')).toBe('https://acme.apps.example.com/');
    await instance.dropIdleConnections('acme');
    expect(cloudFront.calls()).toHaveLength(0);
  });

  it('needs the multi-tenant distribution in tenant mode', () => {
    expect(() => edge({ multiTenantDistributionId: undefined })).toThrow(/multiTenantDistributionId/);
  });
});
