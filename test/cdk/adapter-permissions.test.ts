import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, type FunctionName } from '../../lambdas/functions.js';
import { REPOSITORY_ROOT } from '../../lib/hostplane-function.js';
import { buildSampleStacks } from '../support/cdk-stacks.js';

/** The IAM service prefix of each SDK client package. */
const SERVICE_OF_PACKAGE: Readonly<Record<string, string>> = {
  '@aws-sdk/client-acm': 'acm',
  '@aws-sdk/client-cloudfront': 'cloudfront',
  '@aws-sdk/client-ecs': 'ecs',
  '@aws-sdk/client-efs': 'elasticfilesystem',
  '@aws-sdk/client-elasticache': 'elasticache',
  '@aws-sdk/client-eventbridge': 'events',
  '@aws-sdk/client-iam': 'iam',
  '@aws-sdk/client-rds-data': 'rds-data',
  '@aws-sdk/client-route-53': 'route53',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-servicediscovery': 'servicediscovery',
  '@aws-sdk/client-sfn': 'states',
};

/** S3 operations whose IAM action has another name. */
const S3_ACTIONS: Readonly<Record<string, string>> = {
  HeadBucket: 'ListBucket',
  ListObjectsV2: 'ListBucket',
  ListObjectVersions: 'ListBucketVersions',
  ListBuckets: 'ListAllMyBuckets',
  PutBucketEncryption: 'PutEncryptionConfiguration',
  DeleteObjects: 'DeleteObject',
  PutPublicAccessBlock: 'PutBucketPublicAccessBlock',
  GetBucketPolicy: 'GetBucketPolicy',
};

/**
 * Operations IAM authorizes as other actions (the CloudFront API reference names them): there is no
 * `cloudfront:CreateDistributionWithTags` action, which cfn-lint (W3037) rightly refuses in a policy.
 */
const AUTHORIZED_AS: Readonly<Record<string, readonly string[]>> = {
  'cloudfront:CreateDistributionWithTags': ['cloudfront:CreateDistribution', 'cloudfront:TagResource'],
};

/** `service:Action` for every SDK command a module sends, following its relative imports inside cloud/. */
function actionsOf(entry: string, seen = new Set<string>()): Set<string> {
  const actions = new Set<string>();
  if (seen.has(entry)) return actions;
  seen.add(entry);
  const source = readFileSync(entry, 'utf8');
  for (const [, names, from] of source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)) {
    const service = SERVICE_OF_PACKAGE[from!];
    if (service) {
      for (const name of names!.split(',').map((n) => n.trim().replace(/^type\s+/, ''))) {
        const operation = /^(\w+)Command$/.exec(name)?.[1];
        if (!operation || names!.includes(`type ${name}`)) continue;
        const action = `${service}:${service === 's3' ? (S3_ACTIONS[operation] ?? operation) : operation}`;
        for (const authorized of AUTHORIZED_AS[action] ?? [action]) actions.add(authorized);
      }
    } else if (from!.startsWith('.')) {
      const target = resolve(dirname(entry), from!.replace(/\.js$/, '.ts'));
      if (target.startsWith(join(REPOSITORY_ROOT, 'cloud'))) for (const action of actionsOf(target, seen)) actions.add(action);
    }
  }
  return actions;
}

interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
}

/** A port, the module that builds it, and a function granted it. */
const PORTS: readonly [port: string, builder: string, fn: FunctionName][] = [
  ['secrets', 'cloud/ports/secrets.ts', 'RemoveTenantSecrets'],
  // The cache user's and the database's removals delete the secret each made.
  ['secrets', 'cloud/ports/secrets.ts', 'RemoveTenantCacheUser'],
  ['secrets', 'cloud/ports/secrets.ts', 'RemoveTenantDatabase'],
  ['cacheUsers', 'cloud/ports/cache-users.ts', 'CreateTenantCacheUser'],
  ['compute', 'cloud/ports/compute.ts', 'StartTenantCompute'],
  ['edge', 'cloud/ports/edge.ts', 'RegisterTenantRoute'],
  // Publish and RollBack write a release's front end to the tenant's bucket (PutObject, ListObjectsV2, DeleteObjects).
  ['edge', 'cloud/ports/edge.ts', 'Publish'],
  ['edge', 'cloud/ports/edge.ts', 'RollBack'],
  ['workflows', 'cloud/ports/workflows.ts', 'CreateTenant'],
  ['backups', 'cloud/ports/backups.ts', 'WriteExport'],
  // The export's link is presigned with GetOperation's own rights: it must be allowed GetObject.
  ['backups', 'cloud/ports/backups.ts', 'GetOperation'],
  // Backup, restore and export start the backup state machine.
  ['workflows', 'cloud/ports/workflows.ts', 'CreateBackup'],
  ['sql', 'cloud/ports/sql.ts', 'ListTenants'],
];

describe('the IAM of each function against the SDK commands of the adapters it is granted', () => {
  let allowed: (fn: FunctionName) => string[];

  beforeAll(() => {
    const template = Template.fromStack(buildSampleStacks().controlPlane);
    const lambdas = template.findResources('AWS::Lambda::Function');
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { Roles: unknown[]; PolicyDocument: { Statement: PolicyStatementJson[] } } }[];
    allowed = (fn) => {
      const [, lambda] = Object.entries(lambdas).find(([, resource]) => resource.Properties.Description === FUNCTIONS[fn])!;
      const role = (lambda.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      return policies
        .filter((policy) => policy.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: role })))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
        .filter((statement) => statement.Effect === 'Allow')
        .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]));
    };
  }, 120_000);

  it.each(PORTS)('lets a function granted %s send every command its adapters send (%s, checked on %s)', (_port, builder, fn) => {
    const needed = [...actionsOf(join(REPOSITORY_ROOT, builder))].sort();
    const granted = allowed(fn);
    const covers = (action: string) => granted.some((pattern) => new RegExp(`^${pattern.replaceAll('*', '.*')}$`).test(action));

    expect(needed.length).toBeGreaterThan(0);
    expect({ fn, missing: needed.filter((action) => !covers(action)) }).toEqual({ fn, missing: [] });
  });
});
