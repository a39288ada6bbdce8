import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { ApplicationLoadBalancer } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { CLOUDFRONT_FUNCTIONS_DIR, MultiTenantEdge } from '../../lib/cell/multi-tenant-edge.js';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function synth(withCertificate: boolean): { template: Template; edge: MultiTenantEdge; stack: Stack } {
  const stack = new Stack(new App(), withCertificate ? 'EdgeWithCertificate' : 'EdgeTest', { env: ENV });
  const vpc = new Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  const loadBalancer = new ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: true });
  const originSecret = new Secret(stack, 'OriginSecret');
  const certificate = withCertificate
    ? Certificate.fromCertificateArn(stack, 'Wildcard', 'arn:aws:acm:us-east-1:123456789012:certificate/wildcard')
    : undefined;
  const edge = new MultiTenantEdge(stack, 'Edge', { loadBalancer, originSecret, domain: 'apps.example.com', certificate });
  return { template: Template.fromStack(stack), edge, stack };
}

describe('MultiTenantEdge', () => {
  let template: Template;
  let edge: MultiTenantEdge;
  let stack: Stack;

  beforeAll(() => {
    ({ template, edge, stack } = synth(false));
  });

  it('creates one tenant-only distribution whose tenants must give tenantId and assetsBucket', () => {
    template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        ConnectionMode: 'tenant-only',
        Enabled: true,
        TenantConfig: {
          ParameterDefinitions: [
            { Name: 'tenantId', Definition: { StringSchema: Match.objectLike({ Required: true }) } },
            { Name: 'assetsBucket', Definition: { StringSchema: Match.objectLike({ Required: true }) } },
          ],
        },
        ViewerCertificate: Match.absent(),
      }),
    });
  });

  it('reads assets from the bucket the tenant parameter names, through the OAC, and sends the origin secret to the ALB as a dynamic reference', () => {
    const oac = new Capture();
    const header = new Capture();
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Origins: [
          { Id: 'assets', DomainName: '{{assetsBucket}}.s3.eu-west-1.amazonaws.com', OriginAccessControlId: oac, S3OriginConfig: { OriginAccessIdentity: '' } },
          Match.objectLike({
            Id: 'app',
            DomainName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Alb'), 'DNSName'] },
            OriginCustomHeaders: [{ HeaderName: 'x-origin-verify', HeaderValue: header }],
            CustomOriginConfig: Match.objectLike({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] }),
          }),
        ],
      }),
    });
    expect(oac.asObject()).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^EdgeAssetsAccess/), 'Id'] });
    expect(JSON.stringify(header.asObject())).toMatch(/\{\{resolve:secretsmanager:/);
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }),
    });
  });

  it('sends /api/* uncached to the ALB with all viewer headers but Host, and caches the rest keyed by tenant', () => {
    const staticPolicy = new Capture();
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({ TargetOriginId: 'assets', ViewerProtocolPolicy: 'redirect-to-https', CachePolicyId: staticPolicy }),
        CacheBehaviors: [
          Match.objectLike({
            PathPattern: '/api/*',
            TargetOriginId: 'app',
            ViewerProtocolPolicy: 'https-only',
            AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
            CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
            OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
          }),
        ],
      }),
    });
    expect(staticPolicy.asObject()).toEqual({ Ref: expect.stringMatching(/^EdgeStaticAssetsCache/) });
    template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({
        ParametersInCacheKeyAndForwardedToOrigin: Match.objectLike({
          HeadersConfig: { HeaderBehavior: 'whitelist', Headers: ['x-tenant-id'] },
          EnableAcceptEncodingGzip: true,
          EnableAcceptEncodingBrotli: true,
        }),
      }),
    });
  });

  it('runs both functions, from the runtime/edge/cloudfront files, on both behaviours', () => {
    const functions = template.findResources('AWS::CloudFront::Function');
    const byComment = Object.fromEntries(
      Object.entries(functions).map(([id, resource]) => [
        (resource as { Properties: { FunctionConfig: { Comment: string } } }).Properties.FunctionConfig.Comment,
        { id, properties: (resource as { Properties: { FunctionCode: string; FunctionConfig: { Runtime: string } } }).Properties },
      ]),
    );
    const request = byComment['Hostplane: sets x-tenant-id from the distribution tenant'];
    const response = byComment['Hostplane: security headers'];
    expect(request?.properties.FunctionCode).toBe(readFileSync(join(CLOUDFRONT_FUNCTIONS_DIR, 'viewer-request.js'), 'utf8'));
    expect(response?.properties.FunctionCode).toBe(readFileSync(join(CLOUDFRONT_FUNCTIONS_DIR, 'viewer-response.js'), 'utf8'));
    expect(request?.properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    const associations = [
      { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [request?.id, 'FunctionARN'] } },
      { EventType: 'viewer-response', FunctionARN: { 'Fn::GetAtt': [response?.id, 'FunctionARN'] } },
    ];
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({ FunctionAssociations: associations }),
        CacheBehaviors: [Match.objectLike({ FunctionAssociations: associations })],
      }),
    });
  });

  it('exposes the distribution id and ARN', () => {
    const [logicalId] = Object.keys(template.findResources('AWS::CloudFront::Distribution'));
    expect(stack.resolve(edge.distributionId)).toEqual({ Ref: logicalId });
    expect(JSON.stringify(stack.resolve(edge.distributionArn))).toContain(`:cloudfront::123456789012:distribution/`);
  });

  it('uses the wildcard certificate when given one (SNI, TLS 1.2)', () => {
    const withCertificate = synth(true).template;

    withCertificate.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        ViewerCertificate: {
          AcmCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/wildcard',
          SslSupportMethod: 'sni-only',
          MinimumProtocolVersion: 'TLSv1.2_2021',
        },
      }),
    });
  });
});
