/**
 * A cell of several caches (setting `caches`): each its own replication group, user group, disabled
 * default user and control-plane user; the functions that touch caches get every one of them in
 * HOSTPLANE_CACHES, IAM on every user group and the read of every control-plane secret.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { cacheDescriptionSchema, CLOUD_VARIABLES } from '../../cloud/cloud-environment.js';
import { FUNCTIONS } from '../../lambdas/functions.js';
import { buildSampleStacks } from '../support/cdk-stacks.js';

const SYNTH_TIMEOUT_MS = 180_000;

interface CfnResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

/** A CloudFormation value as text: strings as they are, anything else (an import, a Ref) as `<...>` (no double quotes, so it can sit inside JSON). */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] } | null)?.['Fn::Join'];
  if (join) return join[1].map(flatten).join(join[0]);
  return `<${JSON.stringify(value).replaceAll('"', "'")}>`;
}

describe('a cell with three caches', () => {
  let cell: Record<string, CfnResource>;
  let controlPlane: Template;

  beforeAll(() => {
    const stacks = buildSampleStacks({ cells: [{ name: 'c1', caches: 3 }] });
    cell = Template.fromStack(stacks.cells[0]!).toJSON().Resources as Record<string, CfnResource>;
    controlPlane = Template.fromStack(stacks.controlPlane);
  }, SYNTH_TIMEOUT_MS);

  const ofType = (type: string) => Object.entries(cell).filter(([, resource]) => resource.Type === type);
  const lambda = (name: keyof typeof FUNCTIONS): CfnResource => {
    const found = Object.values(controlPlane.findResources('AWS::Lambda::Function') as Record<string, CfnResource>).filter(
      (fn) => fn.Properties['Description'] === FUNCTIONS[name],
    );
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  const variable = (name: keyof typeof FUNCTIONS, variable: keyof typeof CLOUD_VARIABLES): unknown =>
    (lambda(name).Properties['Environment'] as { Variables: Record<string, unknown> }).Variables[CLOUD_VARIABLES[variable]];
  /** Every statement of the policies attached to `name`'s role. */
  const statementsOf = (name: keyof typeof FUNCTIONS): { Action: string | string[]; Resource: unknown }[] => {
    const role = JSON.stringify(lambda(name).Properties['Role']).match(/"Fn::GetAtt":\["([^"]+)"/)?.[1];
    return Object.values(controlPlane.findResources('AWS::IAM::Policy') as Record<string, CfnResource>)
      .filter((policy) => JSON.stringify(policy.Properties['Roles']).includes(`"${role}"`))
      .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement);
  };

  it('has three replication groups, each attached to a user group of its own with a disabled default user and a control-plane user', () => {
    const groups = ofType('AWS::ElastiCache::ReplicationGroup').map(([, group]) => group.Properties);
    const userGroups = Object.fromEntries(ofType('AWS::ElastiCache::UserGroup').map(([id, group]) => [id, group.Properties]));
    const users = Object.fromEntries(ofType('AWS::ElastiCache::User').map(([, user]) => [user.Properties['UserId'], user.Properties]));

    expect(groups.map((group) => group['ReplicationGroupId']).sort()).toEqual(['hp-test-c1', 'hp-test-c1-1', 'hp-test-c1-2']);
    const attached = groups.map((group) => (group['UserGroupIds'] as { Ref: string }[]).map((ref) => ref.Ref));
    expect(attached.every((ids) => ids.length === 1)).toBe(true);
    expect(new Set(attached.flat()).size).toBe(3);
    expect(Object.values(userGroups).map((group) => group['UserGroupId']).sort()).toEqual(['hp-test-c1-users', 'hp-test-c1-users-1', 'hp-test-c1-users-2']);
    for (const group of Object.values(userGroups)) {
      const members = (group['UserIds'] as string[]).map((id) => users[id]);
      expect(members.map((user) => user?.['UserName'])).toEqual(['default', expect.stringMatching(/^hp-test-c1-control-plane(-\d)?$/)]);
      expect(members[0]).toMatchObject({ AccessString: 'off -@all', NoPasswordRequired: true });
    }
  });

  it('shares one security group and one subnet group among its caches', () => {
    const groups = ofType('AWS::ElastiCache::ReplicationGroup').map(([, group]) => group.Properties);

    expect(new Set(groups.map((group) => JSON.stringify(group['SecurityGroupIds']))).size).toBe(1);
    expect(new Set(groups.map((group) => JSON.stringify(group['CacheSubnetGroupName']))).size).toBe(1);
    expect(ofType('AWS::ElastiCache::SubnetGroup')).toHaveLength(1);
  });

  it('tells the cache functions every cache in HOSTPLANE_CACHES, in index order, and placement how many there are', () => {
    for (const fn of ['CreateTenantCacheUser', 'RemoveTenantCacheUser', 'Publish'] as const) {
      const caches = (JSON.parse(flatten(variable(fn, 'caches'))) as unknown[]).map((cache) => cacheDescriptionSchema.parse(cache));
      expect(caches.map((cache) => cache.id)).toEqual([expect.stringContaining('ReplicationGroup'), expect.anything(), expect.anything()]);
      expect(caches.map((cache) => cache.port)).toEqual([6379, 6379, 6379]);
      expect(new Set(caches.map((cache) => cache.userGroupId)).size).toBe(3);
      expect(new Set(caches.map((cache) => cache.noticesSecretArn)).size).toBe(3);
    }
    expect(variable('ListTenants', 'caches')).toBeUndefined();
    expect(JSON.parse(String(variable('ValidateTenantRequest', 'cells')))).toEqual([
      expect.objectContaining({ cell: 'c1', caches: 3, tenantsPerCache: 98, maxTenants: 294 }),
    ]);
  });

  it('lets the cache-users functions change every cache\'s user group, and the notices function read every control-plane secret', () => {
    const userGroupStatement = statementsOf('CreateTenantCacheUser').find((statement) => [statement.Action].flat().includes('elasticache:ModifyUserGroup'));
    expect([userGroupStatement?.Resource].flat().map(flatten)).toEqual([
      expect.stringMatching(/:usergroup:<.*>$/),
      expect.stringMatching(/:usergroup:<.*>$/),
      expect.stringMatching(/:usergroup:<.*>$/),
    ]);
    const secretReads = statementsOf('Publish')
      .filter((statement) => [statement.Action].flat().includes('secretsmanager:GetSecretValue'))
      .flatMap((statement) => [statement.Resource].flat().map(flatten));
    expect(secretReads.filter((arn) => arn.includes('ControlPlaneSecret'))).toHaveLength(3);
  });
});
