import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { App, Lazy, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { CognitoUserPoolsAuthorizer, MockIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { OAuthScope, UserPool } from 'aws-cdk-lib/aws-cognito';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONSOLE_SOURCE_DIR, ConsoleHosting, consoleContentSecurityPolicy, withoutMetaContentSecurityPolicy, type ConsoleHostingProps } from '../../lib/control-plane/console-hosting.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
/** Synthesis stages the console's files and the deployment function's assets. */
const SYNTH_TIMEOUT_MS = 120_000;

type Json = Record<string, unknown>;

/**
 * A stack wired as the control-plane stack is to wire it: the API's CORS origin and the client's
 * callback are the console's URL (lazily, since the console needs the API and the client first).
 */
function buildConsoleStack(overrides: Partial<ConsoleHostingProps> = {}) {
  const app = new App();
  const stack = new Stack(app, 'ConsoleTest', { env: { account: ACCOUNT, region: REGION } });
  const userPool = new UserPool(stack, 'Operators');
  const built: { hosting?: ConsoleHosting } = {};
  const consoleOrigin = Lazy.string({ produce: () => built.hosting!.url });
  const userPoolClient = userPool.addClient('Console', {
    oAuth: { flows: { authorizationCodeGrant: true }, scopes: [OAuthScope.OPENID, OAuthScope.EMAIL], callbackUrls: [`${consoleOrigin}/`] },
  });
  const api = new RestApi(stack, 'Api', {
    deployOptions: { stageName: 'test' },
    defaultCorsPreflightOptions: { allowOrigins: [consoleOrigin], allowHeaders: ['Authorization', 'Content-Type'] },
  });
  api.root.addResource('tenants').addMethod('GET', new MockIntegration(), {
    authorizer: new CognitoUserPoolsAuthorizer(stack, 'Authorizer', { cognitoUserPools: [userPool] }),
  });
  const hosting = new ConsoleHosting(stack, 'Console', { environment: 'test', api, userPool, userPoolClient, ...overrides });
  built.hosting = hosting;
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template as Json);
  return { stack, hosting, template, assemblyDir: assembly.directory };
}

/** A CloudFormation value as text: `Fn::Join` flattened, `Ref`/`Fn::GetAtt` as `${Id}` / `${Id.Attr}`. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Json;
  if (Array.isArray(object?.['Fn::Join'])) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(text).join(separator);
  }
  if (typeof object?.Ref === 'string') return `\${${object.Ref}}`;
  if (Array.isArray(object?.['Fn::GetAtt'])) return `\${${(object['Fn::GetAtt'] as string[]).join('.')}}`;
  return JSON.stringify(value);
}

/** The logical ids a resource refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn). */
function references(resource: Json): Set<string> {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (!value || typeof value !== 'object') return;
    const object = value as Json;
    if (typeof object.Ref === 'string' && !object.Ref.startsWith('AWS::')) found.add(object.Ref);
    if (Array.isArray(object['Fn::GetAtt'])) found.add(String((object['Fn::GetAtt'] as unknown[])[0]));
    const sub = object['Fn::Sub'];
    const subText = typeof sub === 'string' ? sub : Array.isArray(sub) ? String(sub[0]) : '';
    for (const [, name] of subText.matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) found.add(name!);
    Object.values(object).forEach(walk);
  };
  walk(resource.Properties);
  for (const id of [resource.DependsOn ?? []].flat()) found.add(String(id));
  return found;
}

/** A dependency cycle among the template's resources, as the ids along it, or undefined. */
function findCycle(resources: Record<string, Json>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done' || !resources[id]) return undefined;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const next of references(resources[id]!)) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of Object.keys(resources)) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('ConsoleHosting', () => {
  let built: ReturnType<typeof buildConsoleStack>;
  let template: Template;
  const only = (type: string): [string, Json] => {
    const found = Object.entries(template.findResources(type));
    expect(found).toHaveLength(1);
    return found[0] as [string, Json];
  };

  beforeAll(() => {
    built = buildConsoleStack();
    template = built.template;
  }, SYNTH_TIMEOUT_MS);

  it('keeps the files in a private, encrypted, TLS-only bucket the owner owns', () => {
    const [bucketId] = only('AWS::S3::Bucket');
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('lets only this distribution read the bucket, through origin access control', () => {
    const [distributionId, distribution] = only('AWS::CloudFront::Distribution');
    const [oacId] = only('AWS::CloudFront::OriginAccessControl');
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: { OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
    });
    const origins = (distribution.Properties as Json).DistributionConfig as { Origins: Json[] };
    expect(origins.Origins).toEqual([expect.objectContaining({ OriginAccessControlId: { 'Fn::GetAtt': [oacId, 'Id'] }, S3OriginConfig: { OriginAccessIdentity: '' } })]);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Condition: { StringEquals: { 'AWS:SourceArn': Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([{ Ref: distributionId }])]) }) } },
          }),
        ]),
      },
    });
  });

  it('serves index.html at the root over HTTPS only, with the security headers policy', () => {
    const [policyId] = only('AWS::CloudFront::ResponseHeadersPolicy');
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'redirect-to-https',
          AllowedMethods: ['GET', 'HEAD'],
          ResponseHeadersPolicyId: { Ref: policyId },
        }),
      }),
    });
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
          StrictTransportSecurity: { AccessControlMaxAgeSec: 31_536_000, IncludeSubdomains: true, Override: true },
        }),
      }),
    });
  });

  it('sends a CSP whose connect-src names only the page, the API origin and the Cognito domain', () => {
    const csp = new Capture();
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({ ContentSecurityPolicy: { ContentSecurityPolicy: csp, Override: true } }),
      }),
    });
    const [apiId] = only('AWS::ApiGateway::RestApi');
    const [domainId] = only('AWS::Cognito::UserPoolDomain');
    const directives = text(csp.asObject()).split('; ');

    expect(directives).toContain("default-src 'self'");
    expect(directives).toContain("frame-ancestors 'none'");
    expect(directives.find((d) => d.startsWith('connect-src'))).toBe(
      `connect-src 'self' https://\${${apiId}}.execute-api.${REGION}.\${AWS::URLSuffix} https://\${${domainId}}.auth.${REGION}.amazoncognito.com`,
    );
  });

  it('creates the hosted UI domain hostplane-<environment>-<account>, or the prefix it is given', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: `hostplane-test-${ACCOUNT}`, UserPoolId: Match.anyValue() });

    const custom = buildConsoleStack({ signInDomainPrefix: 'ops-console' });
    custom.template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'ops-console' });
  }, SYNTH_TIMEOUT_MS);

  it('deploys the files, the page without its meta CSP, and a config.json naming the API, the client and the callback', () => {
    const [distributionId] = only('AWS::CloudFront::Distribution');
    const [apiId] = only('AWS::ApiGateway::RestApi');
    const [clientId] = only('AWS::Cognito::UserPoolClient');
    const [domainId] = only('AWS::Cognito::UserPoolDomain');
    const [, deployment] = only('Custom::CDKBucketDeployment');
    const props = deployment.Properties as { SourceObjectKeys: string[]; SourceMarkers: Json[]; DistributionId: unknown; DistributionPaths: string[]; Prune: boolean };
    expect(props).toMatchObject({ DistributionId: { Ref: distributionId }, DistributionPaths: ['/*'], Prune: true });
    expect(props.SourceObjectKeys).toHaveLength(3);

    // Directory assets are staged unzipped in the assembly: read what will be uploaded.
    const staged = props.SourceObjectKeys.map((key) => join(built.assemblyDir, `asset.${key.replace(/\.zip$/, '')}`));
    const [files, page, config] = staged;
    expect(['app.js', 'styles.css'].every((name) => existsSync(join(files!, name)))).toBe(true);
    expect(['index.html', 'config.json', 'README.md'].some((name) => existsSync(join(files!, name)))).toBe(false);
    const html = readFileSync(join(page!, 'index.html'), 'utf8');
    expect(html).not.toContain('Content-Security-Policy');
    expect(html).toContain('<script type="module" src="./app.js"></script>');

    // Deploy-time values are markers in the file, resolved by the deployment from SourceMarkers.
    const markers = props.SourceMarkers[2]!;
    const configText = readFileSync(join(config!, 'config.json'), 'utf8').replace(/<<marker:0xbaba:(\d+)>>/g, (_, n: string) =>
      text(Object.entries(markers).find(([key]) => key.endsWith(`:${n}>>`))?.[1]),
    );
    const stage = Object.keys(template.findResources('AWS::ApiGateway::Stage'))[0]!;
    expect(JSON.parse(configText)).toEqual({
      apiUrl: `https://\${${apiId}}.execute-api.${REGION}.\${AWS::URLSuffix}/\${${stage}}/`,
      auth: {
        domain: `https://\${${domainId}}.auth.${REGION}.amazoncognito.com`,
        clientId: `\${${clientId}}`,
        redirectUri: `https://\${${distributionId}.DomainName}/`,
      },
    });
  });

  it('exposes its https URL, which the client may name as its callback with no dependency cycle', () => {
    const [distributionId] = only('AWS::CloudFront::Distribution');
    expect(built.stack.resolve(built.hosting.url)).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] });
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      CallbackURLs: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/']] }],
    });

    expect(findCycle(template.toJSON().Resources as Record<string, Json>)).toBeUndefined();
  });

  it('has no unacknowledged cdk-nag AwsSolutions finding among its resources', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(built.stack);
    const ours = (path: string) => path.startsWith('ConsoleTest/Console/') || path.includes('CDKBucketDeployment');
    const findings = report.violations.flatMap((violation) =>
      violation.violatingResources.filter((resource) => ours(resource.constructPath ?? '')).map((resource) => `${violation.ruleName}: ${resource.constructPath}`),
    );

    expect(findings).toEqual([]);
  });
});

describe('the console page and its policy', () => {
  it('removes exactly the meta CSP from the source page, and refuses a page without one', () => {
    const html = readFileSync(join(CONSOLE_SOURCE_DIR, 'index.html'), 'utf8');
    const cloud = withoutMetaContentSecurityPolicy(html);

    expect(cloud).not.toMatch(/http-equiv="Content-Security-Policy"/);
    expect(html.length - cloud.length).toBeLessThan(200);
    expect(() => withoutMetaContentSecurityPolicy(cloud)).toThrow(/no Content-Security-Policy meta tag/);
  });

  it('allows no inline script or style and nothing from other origins but the ones it connects to', () => {
    const csp = consoleContentSecurityPolicy(['https://api.example', 'https://auth.example']);

    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(csp).toContain("connect-src 'self' https://api.example https://auth.example");
    expect(csp).toContain("object-src 'none'");
  });
});
