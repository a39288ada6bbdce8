import { join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  CacheCookieBehavior,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  CfnDistribution,
  Function as CloudFrontFunction,
  FunctionCode,
  FunctionRuntime,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  S3OriginAccessControl,
  Signing,
} from 'aws-cdk-lib/aws-cloudfront';
import type { IApplicationLoadBalancer } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { TENANT_PARAMETERS } from '../../cloud/adapters/aws-edge.js';
import { API_PATH_PATTERN, APP_ORIGIN_ID, ASSETS_ORIGIN_ID, ORIGIN_VERIFY_HEADER } from '../../cloud/adapters/aws-edge-distributions.js';
import { REPOSITORY_ROOT } from '../hostplane-function.js';

/** The CloudFront functions' sources (JavaScript runtime 2.0), shared with the cloud edge adapter. */
export const CLOUDFRONT_FUNCTIONS_DIR = join(REPOSITORY_ROOT, 'runtime', 'edge', 'cloudfront');

export interface MultiTenantEdgeProps {
  /** The cell's ALB (Caddy behind it): the origin of `/api/*`. */
  readonly loadBalancer: IApplicationLoadBalancer;
  /** The origin-verify secret CloudFront sends to the ALB origin as `x-origin-verify` (a plain string secret). */
  readonly originSecret: ISecret;
  /**
   * Tenants are served at `<hostLabel>.<domain>`; said in the distribution's comment.
   * @default - not named
   */
  readonly domain?: string;
  /**
   * An ACM certificate (us-east-1) for `*.<domain>`, shared by every distribution tenant.
   * @default - none: each distribution tenant brings its own (a managed certificate request)
   */
  readonly certificate?: ICertificate;
  /**
   * The name CloudFront connects to: with HTTPS, one the ALB's listener has a certificate for.
   * @default - the load balancer's DNS name
   */
  readonly originDomainName?: string;
  /** @default OriginProtocolPolicy.HTTPS_ONLY (the origin-verify secret never travels in the clear) */
  readonly originProtocolPolicy?: OriginProtocolPolicy;
}

const READ_METHODS = ['GET', 'HEAD'];
const ALL_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'];

/**
 * The cell's multi-tenant CloudFront distribution (SaaS Manager, `tenant-only`): every tenant is
 * a distribution tenant of it (created by the cloud edge adapter), with its own domain and two
 * parameters: `tenantId`, which the viewer-request function turns into `x-tenant-id`, and
 * `assetsBucket`, which names the tenant's bucket in the S3 origin's domain
 * (`{{assetsBucket}}.s3.<region>.amazonaws.com`; parameters may be used in origin domains, see the
 * CloudFront Developer Guide, tenant-customization). `/api/*` goes uncached to the ALB with every
 * viewer header but Host; the rest is cached static assets, keyed by tenant as well as path.
 */
export class MultiTenantEdge extends Construct {
  public readonly distributionId: string;
  public readonly distributionArn: string;
  /** The viewer-request function (x-tenant-id), for dedicated distributions to reuse if wanted. */
  public readonly viewerRequestFunction: CloudFrontFunction;
  /** The viewer-response function (security headers). */
  public readonly viewerResponseFunction: CloudFrontFunction;
  public readonly originAccessControl: S3OriginAccessControl;
  /** Static assets: cached, keyed by `x-tenant-id` too, so tenants never share a cached object. */
  public readonly staticCachePolicy: CachePolicy;

  constructor(scope: Construct, id: string, props: MultiTenantEdgeProps) {
    super(scope, id);
    const region = Stack.of(this).region;

    this.viewerRequestFunction = new CloudFrontFunction(this, 'ViewerRequest', {
      code: FunctionCode.fromFile({ filePath: join(CLOUDFRONT_FUNCTIONS_DIR, 'viewer-request.js') }),
      runtime: FunctionRuntime.JS_2_0,
      comment: 'Hostplane: sets x-tenant-id from the distribution tenant',
    });
    this.viewerResponseFunction = new CloudFrontFunction(this, 'ViewerResponse', {
      code: FunctionCode.fromFile({ filePath: join(CLOUDFRONT_FUNCTIONS_DIR, 'viewer-response.js') }),
      runtime: FunctionRuntime.JS_2_0,
      comment: 'Hostplane: security headers',
    });
    this.originAccessControl = new S3OriginAccessControl(this, 'AssetsAccess', {
      description: 'Hostplane: CloudFront reads tenant asset buckets',
      signing: Signing.SIGV4_ALWAYS,
    });
    this.staticCachePolicy = new CachePolicy(this, 'StaticAssetsCache', {
      comment: 'Hostplane static assets: keyed by tenant and path',
      // Whether or not CloudFront separates distribution tenants in its cache, the tenant header
      // (set by the viewer-request function, never the viewer's) keeps them apart.
      headerBehavior: CacheHeaderBehavior.allowList('x-tenant-id'),
      queryStringBehavior: CacheQueryStringBehavior.none(),
      cookieBehavior: CacheCookieBehavior.none(),
      defaultTtl: Duration.days(1),
      minTtl: Duration.seconds(0),
      maxTtl: Duration.days(365),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    const functionAssociations = [
      { eventType: 'viewer-request', functionArn: this.viewerRequestFunction.functionArn },
      { eventType: 'viewer-response', functionArn: this.viewerResponseFunction.functionArn },
    ];
    const distribution = new CfnDistribution(this, 'Distribution', {
      distributionConfig: {
        connectionMode: 'tenant-only',
        comment: `Hostplane cell edge${props.domain ? ` for *.${props.domain}` : ''}`,
        enabled: true,
        httpVersion: 'http2and3',
        defaultRootObject: 'index.html',
        tenantConfig: {
          parameterDefinitions: [
            {
              name: TENANT_PARAMETERS.tenantId,
              definition: { stringSchema: { required: true, comment: 'The tenant id; becomes the x-tenant-id header' } },
            },
            {
              name: TENANT_PARAMETERS.assetsBucket,
              definition: { stringSchema: { required: true, comment: "The tenant's static-asset bucket" } },
            },
          ],
        },
        viewerCertificate: props.certificate
          ? { acmCertificateArn: props.certificate.certificateArn, sslSupportMethod: 'sni-only', minimumProtocolVersion: 'TLSv1.2_2021' }
          : undefined,
        origins: [
          {
            id: ASSETS_ORIGIN_ID,
            domainName: `{{${TENANT_PARAMETERS.assetsBucket}}}.s3.${region}.amazonaws.com`,
            originAccessControlId: this.originAccessControl.originAccessControlId,
            s3OriginConfig: { originAccessIdentity: '' },
          },
          {
            id: APP_ORIGIN_ID,
            domainName: props.originDomainName ?? props.loadBalancer.loadBalancerDnsName,
            // A dynamic reference: the secret's value never enters the template.
            originCustomHeaders: [{ headerName: ORIGIN_VERIFY_HEADER, headerValue: props.originSecret.secretValue.unsafeUnwrap() }],
            customOriginConfig: {
              originProtocolPolicy: props.originProtocolPolicy ?? OriginProtocolPolicy.HTTPS_ONLY,
              httpPort: 80,
              httpsPort: 443,
              originSslProtocols: ['TLSv1.2'],
              originReadTimeout: 30,
              originKeepaliveTimeout: 5,
            },
          },
        ],
        defaultCacheBehavior: {
          targetOriginId: ASSETS_ORIGIN_ID,
          viewerProtocolPolicy: 'redirect-to-https',
          allowedMethods: READ_METHODS,
          cachedMethods: READ_METHODS,
          cachePolicyId: this.staticCachePolicy.cachePolicyId,
          compress: true,
          functionAssociations,
        },
        cacheBehaviors: [
          {
            pathPattern: API_PATH_PATTERN,
            targetOriginId: APP_ORIGIN_ID,
            // A redirect would turn a POST into a GET: plain HTTP is refused instead.
            viewerProtocolPolicy: 'https-only',
            allowedMethods: ALL_METHODS,
            cachedMethods: READ_METHODS,
            cachePolicyId: CachePolicy.CACHING_DISABLED.cachePolicyId,
            originRequestPolicyId: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.originRequestPolicyId,
            compress: true,
            functionAssociations,
          },
        ],
      },
    });
    this.distributionId = distribution.ref;
    this.distributionArn = Stack.of(this).formatArn({ service: 'cloudfront', region: '', resource: 'distribution', resourceName: distribution.ref });
  }
}
