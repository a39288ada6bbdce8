import { pathToFileURL } from 'node:url';
import { ACMClient } from '@aws-sdk/client-acm';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import type { EdgePort } from '../../lambdas/ports/edge.js';
import { AwsEdge } from '../adapters/aws-edge.js';
import { readCloudFrontFunctionSources } from '../adapters/aws-edge-function-code.js';
import type { CloudContext } from '../cloud-context.js';
import { CLOUD_VARIABLES, CloudConfigurationError, cellsVariable, requireVariable } from '../cloud-environment.js';

export function edgePort(context: CloudContext): EdgePort {
  const { env } = context;
  const neededFor = 'the edge port (S3 + CloudFront + Route 53)';
  const mode = requireVariable(env, 'edgeMode', neededFor);
  if (mode !== 'tenant' && mode !== 'dedicated') {
    throw new CloudConfigurationError(`${CLOUD_VARIABLES.edgeMode}=${JSON.stringify(mode)} is neither "tenant" nor "dedicated"`);
  }
  const originSecretArn = requireVariable(env, 'originSecretArn', neededFor);
  const functionsDir = env[CLOUD_VARIABLES.edgeFunctionsDir];
  return new AwsEdge({
    s3: context.client('s3', (c) => new S3Client(c)),
    cloudFront: context.client('cloudfront', (c) => new CloudFrontClient(c)),
    route53: context.client('route53', (c) => new Route53Client(c)),
    // ACM certificates for CloudFront live in us-east-1, whatever the function's region.
    acm: context.client('acm', () => new ACMClient({ region: 'us-east-1' })),
    mode,
    domain: requireVariable(env, 'domain', neededFor),
    hostedZoneId: requireVariable(env, 'hostedZoneId', neededFor),
    namePrefix: `hp-${context.environment()}-${cellsVariable(env)[0]!.cell}`,
    multiTenantDistributionId: env[CLOUD_VARIABLES.multiTenantDistributionId],
    certificateArn: env[CLOUD_VARIABLES.edgeCertificateArn],
    albDomainName: requireVariable(env, 'loadBalancerDnsName', neededFor),
    originSecret: () => context.secretString(originSecretArn),
    region: context.region(),
    accountId: requireVariable(env, 'accountId', neededFor),
    // In a bundle the functions' sources are copied beside it (lib/hostplane-function.ts `copyFolders`).
    functionSources: functionsDir ? () => readCloudFrontFunctionSources(pathToFileURL(`${functionsDir}/`)) : undefined,
  });
}
