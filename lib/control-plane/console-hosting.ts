import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { UserPoolDomain, type IUserPool, type IUserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { acknowledgeCfnLint, DEPENDS_ON_ITS_ROLE_REASON } from '../cfn-lint-acknowledgements.js';
import { REPOSITORY_ROOT } from '../hostplane-function.js';

/** The console's sources: static files, no build step. */
export const CONSOLE_SOURCE_DIR = join(REPOSITORY_ROOT, 'console');

export interface ConsoleHostingProps {
  /** The environment this console serves (dev, prod…): part of the sign-in domain's prefix. */
  readonly environment: string;
  /** The control-plane API the console calls: its URL goes into `config.json`, its origin into the CSP. */
  readonly api: RestApi;
  /** Where operators sign in; the construct gives it a hosted UI domain. */
  readonly userPool: IUserPool;
  /** The console's app client (authorization-code grant, callback `<url>/`). */
  readonly userPoolClient: IUserPoolClient;
  /**
   * The hosted UI's domain prefix (`<prefix>.auth.<region>.amazoncognito.com`), unique in the region.
   * @default `hostplane-<environment>-<account>`
   */
  readonly signInDomainPrefix?: string;
  /**
   * The folder whose files are served.
   * @default CONSOLE_SOURCE_DIR (`console/`)
   */
  readonly sourceDir?: string;
}

/**
 * The operators' console in the cloud: its static files in a private bucket, read by CloudFront
 * through origin access control, with security headers and a Content-Security-Policy that lets the
 * page talk to the API and the Cognito sign-in domain only; a `config.json` generated at deploy
 * that names the API and the sign-in settings. Files are scratch: rebuilt from the repository.
 */
export class ConsoleHosting extends Construct {
  /** The console's address, `https://<distribution domain>` (no trailing slash): the API's `consoleOrigin`. */
  public readonly url: string;
  public readonly bucket: Bucket;
  public readonly distribution: Distribution;
  /** The Cognito hosted UI domain operators sign in at. */
  public readonly signInDomain: UserPoolDomain;

  constructor(scope: Construct, id: string, props: ConsoleHostingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const sourceDir = props.sourceDir ?? CONSOLE_SOURCE_DIR;

    this.signInDomain = new UserPoolDomain(this, 'SignInDomain', {
      userPool: props.userPool,
      cognitoDomain: { domainPrefix: props.signInDomainPrefix ?? `hostplane-${props.environment}-${stack.account}` },
    });
    const signInOrigin = this.signInDomain.baseUrl();
    // The API's origin from its id alone: `api.url` names the stage, and the stage's deployment depends
    // on every method, CORS preflights included, which name this distribution: a cycle.
    const apiOrigin = `https://${props.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}`;

    this.bucket = new Bucket(this, 'Files', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      // Scratch: the deployment below empties it on delete, and the repository has every file.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'Only CloudFront reads these public static files; who did what is in the API access logs and the registry audit events.',
    });

    const headers = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `Hostplane ${props.environment} console: CSP and security headers`,
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: consoleContentSecurityPolicy([apiOrigin, signInOrigin]), override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        // The sign-in code arrives in the query string: it is never sent on as a referrer.
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [
          { header: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=(), payment=()', override: true },
          { header: 'Cross-Origin-Opener-Policy', value: 'same-origin', override: true },
        ],
      },
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: `Hostplane ${props.environment} operators' console`,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
    });
    Validations.of(this.distribution).acknowledge(
      { id: 'AwsSolutions-CFR1', reason: 'Operators work from anywhere; every API call needs a Cognito sign-in with MFA.' },
      { id: 'AwsSolutions-CFR2', reason: 'Static files only; the API they call is Cognito-authorized and throttled at its stage.' },
      { id: 'AwsSolutions-CFR3', reason: 'Static files only; operator actions are in the API access logs and the registry audit events.' },
      {
        id: 'AwsSolutions-CFR4',
        reason: 'Served on the default *.cloudfront.net certificate, whose policy CloudFront fixes; HSTS keeps browsers on HTTPS.',
      },
    );
    this.url = `https://${this.distribution.distributionDomainName}`;

    const deployment = new BucketDeployment(this, 'Files Deployment', {
      destinationBucket: this.bucket,
      sources: [
        Source.asset(sourceDir, { exclude: ['index.html', 'config.json', 'README.md'] }),
        // The response header carries the CSP in the cloud; the page's own tag would block the API.
        Source.data('index.html', withoutMetaContentSecurityPolicy(readFileSync(join(sourceDir, 'index.html'), 'utf8'))),
        Source.jsonData('config.json', {
          apiUrl: props.api.url,
          auth: { domain: signInOrigin, clientId: props.userPoolClient.userPoolClientId, redirectUri: `${this.url}/` },
        }),
      ],
      prune: true,
      retainOnDelete: false,
      // A new config.json or page is served at once, not when the cache expires.
      distribution: this.distribution,
      distributionPaths: ['/*'],
    });
    acknowledgeBucketDeploymentFindings(deployment, this.bucket);
  }
}

/**
 * The console's Content-Security-Policy: everything from its own origin, nothing inline, no
 * framing, and network calls to its own origin plus `connectTo` (the API and the sign-in domain).
 */
export function consoleContentSecurityPolicy(connectTo: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self' ${connectTo.join(' ')}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const META_CSP = /\s*<meta http-equiv="Content-Security-Policy"[^>]*>/;

/** `index.html` without its CSP meta tag (two policies both apply; the header's names the API). */
export function withoutMetaContentSecurityPolicy(html: string): string {
  if (!META_CSP.test(html)) throw new Error('console/index.html: no Content-Security-Policy meta tag to replace with the header');
  return html.replace(META_CSP, '');
}

/**
 * What cdk-nag finds in CDK's own BucketDeployment function (a singleton at the stack's root), each
 * acknowledged by its finding id on that function.
 */
function acknowledgeBucketDeploymentFindings(deployment: BucketDeployment, destination: Bucket): void {
  const stack = Stack.of(deployment);
  const handler = deployment.handlerRole.node.scope;
  if (!handler) return;
  acknowledgeCfnLint(handler, 'W3005', DEPENDS_ON_ITS_ROLE_REASON);
  const shown = (value: string, pseudo: string): string => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  const qualifier = (stack.node.tryGetContext('@aws-cdk/core:bootstrapQualifier') as string | undefined) ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
  const assetsBucket = `cdk-${qualifier}-assets-${shown(stack.account, 'AccountId')}-${shown(stack.region, 'Region')}`;
  const destinationId = stack.resolve((destination.node.defaultChild as CfnBucket).logicalId) as string;
  const copying = 'BucketDeployment copies the console asset from the CDK assets bucket into the console bucket, replacing what was there';
  Validations.of(handler).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "CDK's BucketDeployment function writes its logs with the basic execution role.",
    },
    { id: 'AwsSolutions-L1', reason: "CDK's BucketDeployment chooses its function's runtime (its bundled AWS CLI needs it)." },
    ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((action) => ({
      id: `AwsSolutions-IAM5[Action::${action}]`,
      reason: `${copying}: CDK's grantRead/grantReadWrite action groups.`,
    })),
    { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${assetsBucket}/*]`, reason: `${copying}: any object of the assets bucket it reads from.` },
    { id: `AwsSolutions-IAM5[Resource::<${destinationId}.Arn>/*]`, reason: `${copying}: every object of the console bucket.` },
    { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'cloudfront:CreateInvalidation and GetInvalidation, to serve new files at once, take no resource ARN here.' },
  );
}
