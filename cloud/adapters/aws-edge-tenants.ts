import {
  CreateDistributionTenantCommand,
  DeleteDistributionTenantCommand,
  GetConnectionGroupCommand,
  GetDistributionTenantCommand,
  ListDistributionTenantsCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UpdateDistributionTenantCommand,
  type CloudFrontClient,
  type DistributionTenant,
  type DistributionTenantSummary,
  type Parameter,
  type Tag,
} from '@aws-sdk/client-cloudfront';
import { ConflictError, HostplaneError, PermanentError } from '../../lambdas/domain/errors.js';
import { isAwsError } from './aws-errors.js';
import { cloudFrontCall, cloudFrontError } from './aws-edge-cloudfront.js';
import { pollUntil, type PollSettings } from './poll-until.js';

/** A distribution tenant as the adapter writes it. */
export interface DistributionTenantInput {
  /** Unique in the account; the tenant is found by it. */
  readonly name: string;
  /** The domain it is served at. */
  readonly domain: string;
  readonly parameters: Parameter[];
  readonly tags: Tag[];
}

export interface DistributionTenantsOptions {
  readonly cloudFront: CloudFrontClient;
  /** The cell's multi-tenant distribution. */
  readonly distributionId: string;
  /** @default - CloudFront's default connection group */
  readonly connectionGroupId?: string;
  readonly wait: PollSettings;
}

/** The distribution tenants of one multi-tenant distribution (CloudFront SaaS Manager). */
export class DistributionTenants {
  private readonly cloudFront: CloudFrontClient;
  private readonly distributionId: string;
  private readonly connectionGroupId: string | undefined;
  private readonly wait: PollSettings;
  private readonly routingEndpoints = new Map<string, string>();

  constructor(options: DistributionTenantsOptions) {
    this.cloudFront = options.cloudFront;
    this.distributionId = options.distributionId;
    this.connectionGroupId = options.connectionGroupId;
    this.wait = options.wait;
  }

  /** The tenant named `name` and its ETag, if it is one of this distribution's. */
  async get(name: string): Promise<{ tenant: DistributionTenant; etag: string | undefined } | undefined> {
    try {
      const result = await this.cloudFront.send(new GetDistributionTenantCommand({ Identifier: name }));
      if (!result.DistributionTenant || result.DistributionTenant.DistributionId !== this.distributionId) return undefined;
      return { tenant: result.DistributionTenant, etag: result.ETag };
    } catch (error) {
      if (isAwsError(error, 'EntityNotFound')) return undefined;
      throw cloudFrontError(error, `reading distribution tenant ${name}`);
    }
  }

  /** Tags of a tenant: from its description when CloudFront includes them, else asked for. */
  async tags(tenant: DistributionTenant): Promise<Tag[]> {
    if (tenant.Tags?.Items) return tenant.Tags.Items;
    const result = await cloudFrontCall(`reading the tags of ${tenant.Arn}`, () => this.cloudFront.send(new ListTagsForResourceCommand({ Resource: tenant.Arn })));
    return result.Tags?.Items ?? [];
  }

  /** Every tenant of this distribution (summaries: no parameters, no tags). */
  async list(): Promise<DistributionTenantSummary[]> {
    const found: DistributionTenantSummary[] = [];
    let marker: string | undefined;
    do {
      const page = await cloudFrontCall('listing distribution tenants', () =>
        this.cloudFront.send(new ListDistributionTenantsCommand({ AssociationFilter: { DistributionId: this.distributionId }, Marker: marker })),
      );
      found.push(...(page.DistributionTenantList ?? []));
      marker = page.NextMarker;
    } while (marker);
    return found;
  }

  /**
   * Creates the tenant, or adopts and updates the one of the same name (EntityAlreadyExists): a
   * run before this one made it. An update needs the current ETag (IfMatch); a concurrent change
   * makes it fail with PreconditionFailed, which is transient.
   */
  async createOrUpdate(input: DistributionTenantInput): Promise<DistributionTenant> {
    const domains = [{ Domain: input.domain }];
    try {
      const created = await this.cloudFront.send(
        new CreateDistributionTenantCommand({
          DistributionId: this.distributionId,
          Name: input.name,
          Domains: domains,
          Parameters: input.parameters,
          ConnectionGroupId: this.connectionGroupId,
          Tags: { Items: input.tags },
          Enabled: true,
        }),
      );
      if (!created.DistributionTenant) throw new PermanentError(`creating distribution tenant ${input.name}: the answer names no tenant`);
      return created.DistributionTenant;
    } catch (error) {
      if (error instanceof HostplaneError) throw error;
      if (!isAwsError(error, 'EntityAlreadyExists')) throw cloudFrontError(error, `creating distribution tenant ${input.name}`);
    }
    const doing = `updating distribution tenant ${input.name}`;
    const current = await this.get(input.name);
    if (!current) throw new ConflictError(`${doing}: the name is taken by a tenant of another distribution`, { name: input.name });
    const updated = await cloudFrontCall(doing, () =>
      this.cloudFront.send(
        new UpdateDistributionTenantCommand({
          Id: current.tenant.Id,
          IfMatch: current.etag,
          DistributionId: this.distributionId,
          Domains: domains,
          Parameters: input.parameters,
          ConnectionGroupId: this.connectionGroupId ?? current.tenant.ConnectionGroupId,
          Enabled: true,
        }),
      ),
    );
    const tenant = updated.DistributionTenant ?? current.tenant;
    await cloudFrontCall(`tagging distribution tenant ${input.name}`, () =>
      this.cloudFront.send(new TagResourceCommand({ Resource: tenant.Arn, Tags: { Items: input.tags } })),
    );
    return tenant;
  }

  /**
   * Disables the tenant (CloudFront refuses to delete an enabled one), waits until that is
   * deployed, then deletes it with its ETag. Says whether it existed.
   */
  async remove(name: string): Promise<boolean> {
    const found = await this.get(name);
    if (!found) return false;
    const id = found.tenant.Id;
    try {
      if (found.tenant.Enabled !== false) {
        await this.cloudFront.send(
          new UpdateDistributionTenantCommand({
            Id: id,
            IfMatch: found.etag,
            DistributionId: this.distributionId,
            Domains: (found.tenant.Domains ?? []).map((domain) => ({ Domain: domain.Domain })),
            Parameters: found.tenant.Parameters,
            Enabled: false,
          }),
        );
      }
      let etag = found.etag;
      await pollUntil(
        `distribution tenant ${name} to deploy`,
        async () => {
          const state = await this.get(name);
          etag = state?.etag;
          return state === undefined || state.tenant.Status === 'Deployed' ? true : undefined;
        },
        this.wait,
      );
      await this.cloudFront.send(new DeleteDistributionTenantCommand({ Id: id, IfMatch: etag }));
    } catch (error) {
      if (isAwsError(error, 'EntityNotFound')) return true;
      throw error instanceof HostplaneError ? error : cloudFrontError(error, `removing distribution tenant ${name}`);
    }
    return true;
  }

  /** The domain a tenant's DNS names point at: its connection group's routing endpoint. */
  async routingEndpoint(tenant: DistributionTenant): Promise<string> {
    const group = tenant.ConnectionGroupId ?? this.connectionGroupId;
    if (!group) throw new PermanentError(`distribution tenant ${tenant.Name} names no connection group`);
    const known = this.routingEndpoints.get(group);
    if (known) return known;
    const result = await cloudFrontCall(`reading connection group ${group}`, () => this.cloudFront.send(new GetConnectionGroupCommand({ Identifier: group })));
    const endpoint = result.ConnectionGroup?.RoutingEndpoint;
    if (!endpoint) throw new PermanentError(`connection group ${group} has no routing endpoint`);
    this.routingEndpoints.set(group, endpoint);
    return endpoint;
  }
}
