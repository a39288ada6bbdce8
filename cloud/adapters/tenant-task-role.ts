/**
 * The tenant's task role: what the tenant's own code may do in AWS, which is only its own things
 * (its asset bucket, its secrets, its EFS access point), so one tenant's container can never reach
 * another tenant's data through AWS APIs.
 */
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  PutRolePolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { callAws, isAwsError, toDomainError } from './aws-errors.js';
import type { TenantComputeNames } from './tenant-compute-names.js';

/** Where the tenant's resources live, for their ARNs. */
export interface AwsLocation {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
}

/** What the task role may reach: this tenant's resources, nothing else. */
export interface TenantAccess {
  readonly assetsBucket?: string;
  readonly secretNames: readonly string[];
  readonly fileSystemId: string;
  readonly accessPointArn: string;
}

interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: string | string[];
  /** Absent in a trust policy, which IAM refuses with one. */
  readonly Resource?: string | string[];
  readonly Principal?: Readonly<Record<string, string>>;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** An IAM policy document. */
export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

/**
 * Only ECS tasks of this account and region may assume the role (the confused-deputy conditions
 * AWS recommends for ecs-tasks.amazonaws.com: aws:SourceAccount and aws:SourceArn).
 */
export function taskTrustPolicy(where: AwsLocation): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'EcsTasksOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: 'ecs-tasks.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: {
          StringEquals: { 'aws:SourceAccount': where.accountId },
          ArnLike: { 'aws:SourceArn': `arn:${where.partition}:ecs:${where.region}:${where.accountId}:*` },
        },
      },
    ],
  };
}

/**
 * The task role's only permissions. Secrets are named with `-??????` because Secrets Manager adds
 * six random characters to every secret's ARN (the pattern its IAM guide recommends). Mount and
 * write on the file system are allowed only through the tenant's own access point
 * (`elasticfilesystem:AccessPointArn` condition, EFS guide "Using access points in IAM policies").
 */
export function taskAccessPolicy(access: TenantAccess, where: AwsLocation): PolicyDocument {
  const { partition, region, accountId } = where;
  const statements: PolicyStatement[] = [];
  if (access.assetsBucket !== undefined) {
    statements.push(
      { Sid: 'OwnAssetObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:${partition}:s3:::${access.assetsBucket}/*` },
      { Sid: 'OwnAssetBucketListing', Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:${partition}:s3:::${access.assetsBucket}` },
    );
  }
  if (access.secretNames.length > 0) {
    statements.push({
      Sid: 'OwnSecrets',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: access.secretNames.map((name) => `arn:${partition}:secretsmanager:${region}:${accountId}:secret:${name}-??????`),
    });
  }
  statements.push({
    Sid: 'OwnAppFilesThroughOwnAccessPoint',
    Effect: 'Allow',
    Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
    Resource: `arn:${partition}:elasticfilesystem:${region}:${accountId}:file-system/${access.fileSystemId}`,
    Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': access.accessPointArn } },
  });
  return { Version: '2012-10-17', Statement: statements };
}

/** What TenantTaskRoles needs. */
export interface TenantTaskRolesOptions {
  readonly iam: IAMClient;
  readonly where: AwsLocation;
  /**
   * The permissions boundary of every role created, so a tenant role can never exceed it whatever
   * its inline policy says; the control plane's own IAM refuses to create a role without it.
   */
  readonly permissionsBoundaryArn: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** A role just ensured: its ARN, and whether this call created it (IAM is eventually consistent: a new role may not be usable at once). */
export interface EnsuredRole {
  readonly arn: string;
  readonly created: boolean;
}

/** Creates, adopts and removes tenants' task roles. */
export class TenantTaskRoles {
  constructor(private readonly options: TenantTaskRolesOptions) {}

  /** Creates the role, or adopts it (its policy written again, so a drifted one is put right). */
  async ensure(names: TenantComputeNames, access: TenantAccess): Promise<EnsuredRole> {
    const { iam, where, permissionsBoundaryArn, tags } = this.options;
    let created = true;
    try {
      await iam.send(
        new CreateRoleCommand({
          RoleName: names.taskRole,
          Path: names.taskRolePath,
          AssumeRolePolicyDocument: JSON.stringify(taskTrustPolicy(where)),
          Description: `Hostplane tenant ${names.tenantId}: its own assets, secrets and app files only`,
          PermissionsBoundary: permissionsBoundaryArn,
          Tags: Object.entries({ ...tags, 'hostplane:tenant': names.tenantId }).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
    } catch (error) {
      if (!isAwsError(error, 'EntityAlreadyExistsException', 'EntityAlreadyExists')) throw toDomainError(error, `creating IAM role ${names.taskRole}`);
      created = false;
    }
    await callAws(`writing the policy of IAM role ${names.taskRole}`, () =>
      iam.send(
        new PutRolePolicyCommand({
          RoleName: names.taskRole,
          PolicyName: names.taskRolePolicy,
          PolicyDocument: JSON.stringify(taskAccessPolicy(access, where)),
        }),
      ),
    );
    return { arn: `arn:${where.partition}:iam::${where.accountId}:role${names.taskRolePath}${names.taskRole}`, created };
  }

  /** Deletes the role's policy and the role, each if present; says whether the role was there. */
  async remove(names: TenantComputeNames): Promise<boolean> {
    const { iam } = this.options;
    try {
      await iam.send(new DeleteRolePolicyCommand({ RoleName: names.taskRole, PolicyName: names.taskRolePolicy }));
    } catch (error) {
      if (!isAwsError(error, 'NoSuchEntityException', 'NoSuchEntity')) throw toDomainError(error, `deleting the policy of IAM role ${names.taskRole}`);
    }
    try {
      await iam.send(new DeleteRoleCommand({ RoleName: names.taskRole }));
      return true;
    } catch (error) {
      if (isAwsError(error, 'NoSuchEntityException', 'NoSuchEntity')) return false;
      throw toDomainError(error, `deleting IAM role ${names.taskRole}`);
    }
  }
}
