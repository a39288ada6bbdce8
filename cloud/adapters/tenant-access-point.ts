/**
 * The tenant's EFS access point: the tenant's container mounts the cell's file system only through
 * it, which roots the mount at the tenant's own folder and makes every file operation run as the
 * runtime's user, whatever the container claims.
 */
import {
  CreateAccessPointCommand,
  DeleteAccessPointCommand,
  DescribeAccessPointsCommand,
  type AccessPointDescription,
  type EFSClient,
} from '@aws-sdk/client-efs';
import { PermanentError, ValidationError } from '../../lambdas/domain/errors.js';
import { callAws, isAwsError, toDomainError } from './aws-errors.js';
import { pollUntil, type PollSettings } from './poll-until.js';
import type { AwsLocation } from './tenant-task-role.js';
import type { TenantComputeNames } from './tenant-compute-names.js';

/** The runtime's user and group in the tenant image; owner of the tenant's folder. */
export const TENANT_POSIX_ID = 1000;

/** An access point that exists and can be mounted. */
export interface TenantAccessPoint {
  readonly id: string;
  readonly arn: string;
}

export interface TenantAccessPointsOptions {
  readonly efs: EFSClient;
  readonly fileSystemId: string;
  readonly where: AwsLocation;
  readonly tags: Readonly<Record<string, string>>;
  readonly poll: PollSettings;
}

/** `/` + the tenant's app-files folder, checked to stay inside the file system's tenant area. */
export function accessPointPath(appFilesFolder: string): string {
  const parts = appFilesFolder.split('/');
  if (appFilesFolder.startsWith('/') || parts.some((part) => part === '' || part === '.' || part === '..' || !/^[A-Za-z0-9._-]+$/.test(part))) {
    throw new ValidationError('appFilesFolder', `must be a relative folder such as tenants/acme, got ${JSON.stringify(appFilesFolder)}`);
  }
  return `/${appFilesFolder}`;
}

const SERVICE_TAG = 'hostplane:service';

/** Creates, adopts and removes tenants' access points on the cell's file system. */
export class TenantAccessPoints {
  constructor(private readonly options: TenantAccessPointsOptions) {}

  /**
   * Adopts the tenant's access point (found by its ClientToken or its service tag) or creates it,
   * then waits until it is available (a task cannot mount one that is still being created).
   */
  async ensure(names: TenantComputeNames, appFilesFolder: string): Promise<TenantAccessPoint> {
    const path = accessPointPath(appFilesFolder);
    const found = await this.find(names);
    if (found) {
      if (found.RootDirectory?.Path !== path) {
        throw new PermanentError(`EFS access point ${found.AccessPointId} of ${names.serviceName} is rooted at ${found.RootDirectory?.Path}, not ${path}`);
      }
      return this.available(found.AccessPointId ?? '', found.LifeCycleState);
    }
    const { efs, fileSystemId, tags } = this.options;
    let id: string;
    let state: string | undefined;
    try {
      const created = await efs.send(
        new CreateAccessPointCommand({
          // Same token, same request: EFS returns the first access point instead of making a second.
          ClientToken: names.idempotencyToken,
          FileSystemId: fileSystemId,
          PosixUser: { Uid: TENANT_POSIX_ID, Gid: TENANT_POSIX_ID },
          RootDirectory: { Path: path, CreationInfo: { OwnerUid: TENANT_POSIX_ID, OwnerGid: TENANT_POSIX_ID, Permissions: '0755' } },
          Tags: Object.entries({ ...tags, [SERVICE_TAG]: names.serviceName, 'hostplane:tenant': names.tenantId }).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      id = created.AccessPointId ?? '';
      state = created.LifeCycleState;
    } catch (error) {
      if (!isAwsError(error, 'AccessPointAlreadyExists')) throw toDomainError(error, `creating the EFS access point of ${names.serviceName}`);
      id = (error as { AccessPointId?: string }).AccessPointId ?? '';
      if (!id) throw toDomainError(error, `creating the EFS access point of ${names.serviceName}`);
    }
    return this.available(id, state);
  }

  /** Deletes the tenant's access point if there is one (the files under it stay); says whether there was. */
  async remove(names: TenantComputeNames): Promise<boolean> {
    const found = await this.find(names);
    if (!found?.AccessPointId) return false;
    const id = found.AccessPointId;
    try {
      await this.options.efs.send(new DeleteAccessPointCommand({ AccessPointId: id }));
      return true;
    } catch (error) {
      if (isAwsError(error, 'AccessPointNotFound')) return false;
      throw toDomainError(error, `deleting EFS access point ${id} of ${names.serviceName}`);
    }
  }

  /** The tenant's access point on the file system, unless it is being deleted. */
  async find(names: TenantComputeNames): Promise<AccessPointDescription | undefined> {
    const { efs, fileSystemId } = this.options;
    let NextToken: string | undefined;
    do {
      const page = await callAws(`listing the EFS access points of ${fileSystemId}`, () =>
        efs.send(new DescribeAccessPointsCommand({ FileSystemId: fileSystemId, ...(NextToken ? { NextToken } : {}) })),
      );
      const ours = (page.AccessPoints ?? []).find(
        (point) =>
          (point.ClientToken === names.idempotencyToken || point.Tags?.some((tag) => tag.Key === SERVICE_TAG && tag.Value === names.serviceName)) &&
          point.LifeCycleState !== 'deleting' &&
          point.LifeCycleState !== 'deleted',
      );
      if (ours) return ours;
      NextToken = page.NextToken;
    } while (NextToken);
    return undefined;
  }

  private async available(id: string, state: string | undefined): Promise<TenantAccessPoint> {
    const { efs, where, poll } = this.options;
    const point = { id, arn: `arn:${where.partition}:elasticfilesystem:${where.region}:${where.accountId}:access-point/${id}` };
    if (state === 'available') return point;
    return pollUntil(
      `EFS access point ${id} to become available`,
      async () => {
        let description: AccessPointDescription | undefined;
        try {
          description = (await efs.send(new DescribeAccessPointsCommand({ AccessPointId: id }))).AccessPoints?.[0];
        } catch (error) {
          // Just created: EFS may not list it yet.
          if (isAwsError(error, 'AccessPointNotFound')) return undefined;
          throw toDomainError(error, `describing EFS access point ${id}`);
        }
        if (description?.LifeCycleState === 'error') throw new PermanentError(`EFS access point ${id} is in the error state`);
        return description?.LifeCycleState === 'available' ? point : undefined;
      },
      poll,
    );
  }
}
