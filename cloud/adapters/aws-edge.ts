/**
 * Cloud edge: a tenant's static assets in a private S3 bucket, its front in CloudFront (a
 * distribution tenant of the cell's multi-tenant distribution, or a dedicated distribution), its
 * DNS name in Route 53.
 */
import type { ACMClient } from '@aws-sdk/client-acm';
import type { CloudFrontClient, Tag } from '@aws-sdk/client-cloudfront';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { ValidationError } from '../../lambdas/domain/errors.js';
import { fitName } from '../../lambdas/domain/naming.js';
import type { StaticAssetFiles } from '../../lambdas/domain/static-assets.js';
import type { EdgePort, StaticAssetsPublished, TenantRoute } from '../../lambdas/ports/edge.js';
import { S3StaticAssets, bucketRegionalDomain, checkBucketName } from './aws-edge-assets.js';
import { deleteCloudFrontFunction, ensureOriginAccessControl, publishCloudFrontFunction } from './aws-edge-cloudfront.js';
import { realSleep, type PollSettings } from './poll-until.js';
import { DedicatedDistributions, dedicatedDistributionConfig } from './aws-edge-distributions.js';
import { EdgeDnsRecords } from './aws-edge-dns.js';
import { dedicatedViewerRequestSource, readCloudFrontFunctionSources, type CloudFrontFunctionSources } from './aws-edge-function-code.js';
import { DistributionTenants } from './aws-edge-tenants.js';

/** `tenant`: a distribution tenant per tenant (up to 10,000 per account); `dedicated`: a standard distribution per tenant (500 by default). */
export type EdgeMode = 'tenant' | 'dedicated';

/** Parameters a distribution tenant gives the multi-tenant distribution (see `MultiTenantEdge`). */
export const TENANT_PARAMETERS = {
  /** Read by the viewer-request function; becomes `x-tenant-id`. */
  tenantId: 'tenantId',
  /** The S3 origin's domain is `{{assetsBucket}}.s3.<region>.amazonaws.com`. */
  assetsBucket: 'assetsBucket',
} as const;

/** Tags a tenant's front carries; routes are read back from them. */
export const ROUTE_TAGS = {
  tenantId: 'hostplane:tenant',
  hostLabel: 'hostplane:host-label',
  endpoint: 'hostplane:endpoint',
  assetsBucket: 'hostplane:assets-bucket',
} as const;

export interface AwsEdgeOptions {
  readonly s3: S3Client;
  readonly cloudFront: CloudFrontClient;
  readonly route53: Route53Client;
  /** Accepted for custom domains with an ACM certificate, which are not built yet: unused. */
  readonly acm?: ACMClient;
  /** @default 'tenant' */
  readonly mode?: EdgeMode;
  /** Tenants are served at `<hostLabel>.<domain>`. */
  readonly domain: string;
  /** The public hosted zone of `domain`. */
  readonly hostedZoneId: string;
  /** Names of what this adapter creates in CloudFront start with it: this environment and cell, `hp-<env>-<cell>`. */
  readonly namePrefix: string;
  /** The cell's multi-tenant distribution (tenant mode). */
  readonly multiTenantDistributionId?: string;
  /** @default - CloudFront's default connection group (tenant mode) */
  readonly connectionGroupId?: string;
  /** ACM certificate (us-east-1) for `*.<domain>` (dedicated mode; in tenant mode the multi-tenant distribution has it). */
  readonly certificateArn?: string;
  /** The cell ALB's DNS name: with `https-only`, one its HTTPS listener has a certificate for. */
  readonly albDomainName: string;
  /** How CloudFront reaches the ALB; plain HTTP would carry the origin-verify secret in the clear. @default 'https-only' */
  readonly albOriginProtocol?: 'https-only' | 'http-only';
  /** The origin-verify secret (dedicated mode; read from Secrets Manager by the composition root). */
  readonly originSecret: () => Promise<string>;
  readonly region: string;
  readonly accountId: string;
  /** @default - read from runtime/edge/cloudfront/ */
  readonly functionSources?: () => Promise<CloudFrontFunctionSources>;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
  /** How long a removal waits for CloudFront to deploy a disable before it gives up (transiently). @default 600_000 */
  readonly waitTimeoutMs?: number;
  /** @default 15_000 */
  readonly pollIntervalMs?: number;
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const NAME_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
/** CloudFront tag values allow letters, digits, spaces and `_.:/=+-@`. */
const TAG_SAFE = /^[A-Za-z0-9_.:/=+\-@]{1,256}$/;

const routeSchema = z.object({
  tenantId: z.string().regex(DNS_LABEL, 'must be a DNS label'),
  hostLabel: z.string().regex(DNS_LABEL, 'must be a DNS label'),
  endpoint: z.string().regex(TAG_SAFE, 'must be a host:port or service name'),
  assetsBucket: z.string().refine((name) => {
    try {
      checkBucketName(name);
      return true;
    } catch {
      return false;
    }
  }, 'must be a bucket name'),
});

export class AwsEdge implements EdgePort {
  readonly mode: EdgeMode;
  readonly domain: string;
  private readonly options: AwsEdgeOptions;
  private readonly assets: S3StaticAssets;
  private readonly dns: EdgeDnsRecords;
  private readonly tenants: DistributionTenants | undefined;
  private readonly distributions: DedicatedDistributions;
  private sources: Promise<CloudFrontFunctionSources> | undefined;

  constructor(options: AwsEdgeOptions) {
    this.options = options;
    this.mode = options.mode ?? 'tenant';
    this.domain = options.domain.toLowerCase();
    if (!DOMAIN.test(this.domain)) throw new ValidationError('domain', `must be a domain name, got ${JSON.stringify(options.domain)}`);
    if (!NAME_PREFIX.test(options.namePrefix)) throw new ValidationError('namePrefix', `must be lowercase letters, digits and dashes, got ${JSON.stringify(options.namePrefix)}`);
    if (this.mode === 'tenant' && !options.multiTenantDistributionId) {
      throw new ValidationError('multiTenantDistributionId', 'is required in tenant mode');
    }
    if (this.mode === 'dedicated' && !options.certificateArn) throw new ValidationError('certificateArn', 'is required in dedicated mode');
    // CloudFront deploys in minutes: a steady poll, not a backoff.
    const interval = options.pollIntervalMs ?? 15_000;
    const wait: PollSettings = {
      sleep: options.sleep ?? realSleep,
      now: options.now ?? Date.now,
      timeoutMs: options.waitTimeoutMs ?? 600_000,
      initialDelayMs: interval,
      maxDelayMs: interval,
    };
    this.assets = new S3StaticAssets({ s3: options.s3, region: options.region });
    this.dns = new EdgeDnsRecords({ route53: options.route53, hostedZoneId: options.hostedZoneId });
    this.distributions = new DedicatedDistributions({ cloudFront: options.cloudFront, wait });
    this.tenants = options.multiTenantDistributionId
      ? new DistributionTenants({
          cloudFront: options.cloudFront,
          distributionId: options.multiTenantDistributionId,
          connectionGroupId: options.connectionGroupId,
          wait,
        })
      : undefined;
  }

  /** In tenant mode the bucket policy names the multi-tenant distribution; a dedicated one is named by `registerRoute`. */
  async ensureStaticAssets(assetsBucket: string): Promise<void> {
    await this.assets.ensure(assetsBucket, this.mode === 'tenant' ? this.multiTenantDistributionArn() : undefined);
  }

  removeStaticAssets(assetsBucket: string): Promise<boolean> {
    return this.assets.remove(assetsBucket);
  }

  staticAssetsExist(assetsBucket: string): Promise<boolean> {
    return this.assets.exists(assetsBucket);
  }

  listStaticAssets(prefix: string): Promise<string[]> {
    return this.assets.list(prefix);
  }

  /**
   * S3 PutObject at the top of the tenant's bucket: both kinds of front read it with no origin path
   * (`/` is the distributions' default root object, `index.html`). No invalidation is needed: pages
   * and every file without a content hash in its name are stored `no-cache` (the multi-tenant
   * distribution's static cache policy has a minimum TTL of 0, the dedicated one's CachingOptimized
   * 1 s), hashed files `immutable`.
   */
  publishStaticAssets(assetsBucket: string, releaseId: string, files: StaticAssetFiles): Promise<StaticAssetsPublished> {
    return this.assets.publish(assetsBucket, releaseId, files);
  }

  async registerRoute(route: TenantRoute): Promise<{ url: string }> {
    const parsed = routeSchema.safeParse(route);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError(`route.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'is invalid');
    }
    const valid = parsed.data;
    const host = this.hostName(valid.hostLabel);
    const tags: Tag[] = [
      { Key: ROUTE_TAGS.tenantId, Value: valid.tenantId },
      { Key: ROUTE_TAGS.hostLabel, Value: valid.hostLabel },
      { Key: ROUTE_TAGS.endpoint, Value: valid.endpoint },
      { Key: ROUTE_TAGS.assetsBucket, Value: valid.assetsBucket },
    ];
    if (this.tenants) {
      const tenant = await this.tenants.createOrUpdate({
        name: this.frontName(valid.hostLabel),
        domain: host,
        parameters: [
          { Name: TENANT_PARAMETERS.tenantId, Value: valid.tenantId },
          { Name: TENANT_PARAMETERS.assetsBucket, Value: valid.assetsBucket },
        ],
        tags,
      });
      await this.dns.upsert(host, await this.tenants.routingEndpoint(tenant));
    } else {
      const distribution = await this.registerDedicated(valid, host, tags);
      await this.dns.upsert(host, distribution.domainName);
    }
    return { url: this.urlFor(valid.hostLabel) };
  }

  /**
   * A no-op in the cloud, by necessity, and what that leaves. The connections at stake are Caddy's
   * (the cell's edge proxy) to the tenant's task; the control plane cannot reach them: Caddy runs
   * with `admin off`, in another service, and the swap keeps the task's address (the reloader hands
   * the same listening socket to the new process), so its SRV record does not change either. What
   * keeps requests whole instead is the drain (DESIGN.md): the old process stops accepting, answers
   * each further request on a connection it holds with `Connection: close`, and Caddy closes its
   * idle upstream connections after 4 s, before the app's 5 s. So after MarkDeployed a request may
   * still be answered by the old release, at most once per connection Caddy held to it, and only
   * until the old process exits (the app's own drain deadline is 10 s, the reloader kills it at
   * 15 s); none is dropped. Locally the front door does drop them, so there the first request after
   * SUCCEEDED reaches the new release.
   */
  async dropIdleConnections(hostLabel: string): Promise<void> {
    this.checkLabel(hostLabel);
  }

  async removeRoute(hostLabel: string): Promise<boolean> {
    this.checkLabel(hostLabel);
    let existed: boolean;
    if (this.tenants) {
      existed = await this.tenants.remove(this.frontName(hostLabel));
    } else {
      const distribution = await this.distributions.find(this.dedicatedComment(hostLabel));
      if (distribution?.Id) await this.distributions.remove(distribution.Id);
      // After the distribution: a function in use cannot be deleted.
      const functionExisted = await deleteCloudFrontFunction(this.options.cloudFront, this.viewerRequestFunctionName(hostLabel));
      existed = distribution !== undefined || functionExisted;
    }
    await this.dns.remove(this.hostName(hostLabel));
    return existed;
  }

  async getRoute(hostLabel: string): Promise<TenantRoute | undefined> {
    this.checkLabel(hostLabel);
    if (this.tenants) {
      const found = await this.tenants.get(this.frontName(hostLabel));
      return found ? routeFromTags(await this.tenants.tags(found.tenant)) : undefined;
    }
    const distribution = await this.distributions.find(this.dedicatedComment(hostLabel));
    return distribution?.ARN ? routeFromTags(await this.distributions.tags(distribution.ARN)) : undefined;
  }

  async listRoutes(): Promise<TenantRoute[]> {
    const routes: TenantRoute[] = [];
    if (this.tenants) {
      const prefix = `${this.options.namePrefix}-`;
      for (const summary of await this.tenants.list()) {
        if (!summary.Name?.startsWith(prefix)) continue;
        const found = await this.tenants.get(summary.Name);
        const route = found && routeFromTags(await this.tenants.tags(found.tenant));
        if (route) routes.push(route);
      }
    } else {
      for (const summary of await this.distributions.list(this.dedicatedComment(''))) {
        const route = summary.ARN ? routeFromTags(await this.distributions.tags(summary.ARN)) : undefined;
        if (route) routes.push(route);
      }
    }
    return routes.sort((a, b) => a.hostLabel.localeCompare(b.hostLabel));
  }

  urlFor(hostLabel: string): string {
    return `https://${this.hostName(hostLabel)}/`;
  }

  /** The ARN bucket policies name in tenant mode. */
  multiTenantDistributionArn(): string {
    return `arn:aws:cloudfront::${this.options.accountId}:distribution/${this.options.multiTenantDistributionId}`;
  }

  /** A dedicated distribution with its own viewer-request function (tenant id in its code), the shared security-headers function and OAC. */
  private async registerDedicated(route: TenantRoute, host: string, tags: Tag[]): Promise<{ domainName: string }> {
    const { cloudFront, namePrefix } = this.options;
    const sources = await this.functionSources();
    const originAccessControlId = await ensureOriginAccessControl(cloudFront, `${namePrefix}-assets`);
    const viewerRequestFunctionArn = await publishCloudFrontFunction(
      cloudFront,
      this.viewerRequestFunctionName(route.hostLabel),
      `Hostplane: x-tenant-id ${route.tenantId}`,
      dedicatedViewerRequestSource(sources.viewerRequest, route.tenantId),
    );
    const viewerResponseFunctionArn = await publishCloudFrontFunction(
      cloudFront,
      fitName(`${namePrefix}-security-headers`, 64),
      'Hostplane: security headers',
      sources.viewerResponse,
    );
    const config = dedicatedDistributionConfig({
      callerReference: this.frontName(route.hostLabel),
      comment: this.dedicatedComment(route.hostLabel),
      alias: host,
      certificateArn: this.options.certificateArn ?? '',
      assetsDomain: bucketRegionalDomain(route.assetsBucket, this.options.region),
      originAccessControlId,
      albDomainName: this.options.albDomainName,
      albOriginProtocol: this.options.albOriginProtocol ?? 'https-only',
      originSecret: await this.options.originSecret(),
      viewerRequestFunctionArn,
      viewerResponseFunctionArn,
    });
    const distribution = await this.distributions.createOrUpdate(config, tags);
    await this.assets.allowDistribution(route.assetsBucket, distribution.arn);
    return distribution;
  }

  private functionSources(): Promise<CloudFrontFunctionSources> {
    this.sources ??= (this.options.functionSources ?? (() => readCloudFrontFunctionSources()))();
    return this.sources;
  }

  private checkLabel(hostLabel: string): string {
    if (typeof hostLabel !== 'string' || !DNS_LABEL.test(hostLabel)) {
      throw new ValidationError('hostLabel', `must be a DNS label, got ${JSON.stringify(hostLabel)}`);
    }
    return hostLabel;
  }

  private hostName(hostLabel: string): string {
    return `${this.checkLabel(hostLabel)}.${this.domain}`;
  }

  /** The distribution tenant's name (unique in the account), or a dedicated distribution's caller reference. */
  private frontName(hostLabel: string): string {
    return fitName(`${this.options.namePrefix}-${hostLabel}`, 128);
  }

  private dedicatedComment(hostLabel: string): string {
    return `hostplane:${this.options.namePrefix}:${hostLabel}`;
  }

  private viewerRequestFunctionName(hostLabel: string): string {
    return fitName(`${this.options.namePrefix}-${hostLabel}-request`, 64);
  }
}

/** A route read back from a front's tags; undefined when they are not all there. */
function routeFromTags(tags: Tag[]): TenantRoute | undefined {
  const value = (key: string): string | undefined => tags.find((tag) => tag.Key === key)?.Value;
  const tenantId = value(ROUTE_TAGS.tenantId);
  const hostLabel = value(ROUTE_TAGS.hostLabel);
  const endpoint = value(ROUTE_TAGS.endpoint);
  const assetsBucket = value(ROUTE_TAGS.assetsBucket);
  if (!tenantId || !hostLabel || !endpoint || !assetsBucket) return undefined;
  return { tenantId, hostLabel, endpoint, assetsBucket };
}
