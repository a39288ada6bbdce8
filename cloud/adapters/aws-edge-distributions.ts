import {
  CreateDistributionWithTagsCommand,
  DeleteDistributionCommand,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  ListDistributionsCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UpdateDistributionCommand,
  type CloudFrontClient,
  type DistributionConfig,
  type DistributionSummary,
  type Method,
  type Tag,
} from '@aws-sdk/client-cloudfront';
import { HostplaneError, PermanentError } from '../../lambdas/domain/errors.js';
import { isAwsError } from './aws-errors.js';
import { MANAGED_POLICIES, cloudFrontCall, cloudFrontError } from './aws-edge-cloudfront.js';
import { pollUntil, type PollSettings } from './poll-until.js';

/** The header CloudFront adds to requests for the ALB origin; Caddy refuses requests without it. */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';
/** Origin ids inside a tenant's front. */
export const ASSETS_ORIGIN_ID = 'assets';
export const APP_ORIGIN_ID = 'app';
/** Requests for the app's API go to the ALB; everything else is a static asset. */
export const API_PATH_PATTERN = '/api/*';

/** What differs between tenants' dedicated distributions. */
export interface DedicatedDistributionInput {
  /** Stable per tenant, so a repeated create is recognised. */
  readonly callerReference: string;
  /** Marks the distribution as the tenant's (ListDistributions returns comments, not tags). */
  readonly comment: string;
  /** `<hostLabel>.<domain>`. */
  readonly alias: string;
  /** An ACM certificate in us-east-1 covering the alias. */
  readonly certificateArn: string;
  /** The asset bucket's regional domain. */
  readonly assetsDomain: string;
  readonly originAccessControlId: string;
  readonly albDomainName: string;
  readonly albOriginProtocol: 'https-only' | 'http-only';
  readonly originSecret: string;
  readonly viewerRequestFunctionArn: string;
  readonly viewerResponseFunctionArn: string;
}

const READ_METHODS: Method[] = ['GET', 'HEAD'];
const ALL_METHODS: Method[] = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'];

/** A tenant's own (standard) distribution: S3 static assets by default, `/api/*` to the cell's ALB. */
export function dedicatedDistributionConfig(input: DedicatedDistributionInput): DistributionConfig {
  const functions = {
    Quantity: 2,
    Items: [
      { EventType: 'viewer-request' as const, FunctionARN: input.viewerRequestFunctionArn },
      { EventType: 'viewer-response' as const, FunctionARN: input.viewerResponseFunctionArn },
    ],
  };
  return {
    CallerReference: input.callerReference,
    Comment: input.comment,
    Enabled: true,
    Aliases: { Quantity: 1, Items: [input.alias] },
    DefaultRootObject: 'index.html',
    HttpVersion: 'http2and3',
    IsIPV6Enabled: true,
    PriceClass: 'PriceClass_100',
    ViewerCertificate: { ACMCertificateArn: input.certificateArn, SSLSupportMethod: 'sni-only', MinimumProtocolVersion: 'TLSv1.2_2021' },
    Origins: {
      Quantity: 2,
      Items: [
        {
          Id: ASSETS_ORIGIN_ID,
          DomainName: input.assetsDomain,
          OriginAccessControlId: input.originAccessControlId,
          // Required with an OAC, and empty: no legacy origin access identity.
          S3OriginConfig: { OriginAccessIdentity: '' },
        },
        {
          Id: APP_ORIGIN_ID,
          DomainName: input.albDomainName,
          CustomHeaders: { Quantity: 1, Items: [{ HeaderName: ORIGIN_VERIFY_HEADER, HeaderValue: input.originSecret }] },
          CustomOriginConfig: {
            HTTPPort: 80,
            HTTPSPort: 443,
            OriginProtocolPolicy: input.albOriginProtocol,
            OriginSslProtocols: { Quantity: 1, Items: ['TLSv1.2'] },
            OriginReadTimeout: 30,
            OriginKeepaliveTimeout: 5,
          },
        },
      ],
    },
    DefaultCacheBehavior: {
      TargetOriginId: ASSETS_ORIGIN_ID,
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: { Quantity: 2, Items: READ_METHODS, CachedMethods: { Quantity: 2, Items: READ_METHODS } },
      CachePolicyId: MANAGED_POLICIES.cachingOptimized,
      Compress: true,
      FunctionAssociations: functions,
    },
    CacheBehaviors: {
      Quantity: 1,
      Items: [
        {
          PathPattern: API_PATH_PATTERN,
          TargetOriginId: APP_ORIGIN_ID,
          // A redirect would turn a POST into a GET: plain HTTP is refused instead.
          ViewerProtocolPolicy: 'https-only',
          AllowedMethods: { Quantity: 7, Items: ALL_METHODS, CachedMethods: { Quantity: 2, Items: READ_METHODS } },
          CachePolicyId: MANAGED_POLICIES.cachingDisabled,
          OriginRequestPolicyId: MANAGED_POLICIES.allViewerExceptHostHeader,
          Compress: true,
          FunctionAssociations: functions,
        },
      ],
    },
  };
}

/** Where a tenant's distribution answers. */
export interface DistributionRef {
  readonly id: string;
  readonly arn: string;
  readonly domainName: string;
}

export interface DedicatedDistributionsOptions {
  readonly cloudFront: CloudFrontClient;
  readonly wait: PollSettings;
}

/** Tenants' dedicated (standard) distributions, found by their comment. */
export class DedicatedDistributions {
  private readonly cloudFront: CloudFrontClient;
  private readonly wait: PollSettings;

  constructor(options: DedicatedDistributionsOptions) {
    this.cloudFront = options.cloudFront;
    this.wait = options.wait;
  }

  /** Every distribution whose comment starts with `commentPrefix`. */
  async list(commentPrefix: string): Promise<DistributionSummary[]> {
    const found: DistributionSummary[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await cloudFrontCall('listing distributions', () => this.cloudFront.send(new ListDistributionsCommand({ Marker: marker })));
      const list = page.DistributionList;
      for (const item of list?.Items ?? []) if (item.Comment?.startsWith(commentPrefix)) found.push(item);
      if (!list?.IsTruncated || !list.NextMarker) return found;
      marker = list.NextMarker;
    }
  }

  /** The distribution whose comment is exactly `comment`. */
  async find(comment: string): Promise<DistributionSummary | undefined> {
    return (await this.list(comment)).find((item) => item.Comment === comment);
  }

  async tags(arn: string): Promise<Tag[]> {
    const result = await cloudFrontCall(`reading the tags of ${arn}`, () => this.cloudFront.send(new ListTagsForResourceCommand({ Resource: arn })));
    return result.Tags?.Items ?? [];
  }

  /**
   * Creates the distribution, or updates the one that carries the same comment (create-or-adopt:
   * CloudFront answers DistributionAlreadyExists, or CNAMEAlreadyExists for the alias, when a run
   * before this one created it).
   */
  async createOrUpdate(config: DistributionConfig, tags: Tag[]): Promise<DistributionRef> {
    const comment = config.Comment ?? '';
    let existing = await this.find(comment);
    if (!existing) {
      try {
        const created = await this.cloudFront.send(
          new CreateDistributionWithTagsCommand({ DistributionConfigWithTags: { DistributionConfig: config, Tags: { Items: tags } } }),
        );
        return refOf(created.Distribution, `creating distribution ${comment}`);
      } catch (error) {
        if (!isAwsError(error, 'DistributionAlreadyExists', 'CNAMEAlreadyExists')) throw cloudFrontError(error, `creating distribution ${comment}`);
        existing = await this.find(comment);
        if (!existing) throw new PermanentError(`creating distribution ${comment}: its alias or caller reference belongs to a distribution that is not this tenant's`);
      }
    }
    return this.update(existing, config, tags);
  }

  /** Disables the distribution, waits until that is deployed, then deletes it; already gone is fine. */
  async remove(id: string): Promise<void> {
    try {
      const current = await this.cloudFront.send(new GetDistributionConfigCommand({ Id: id }));
      if (current.DistributionConfig?.Enabled) {
        await this.cloudFront.send(
          new UpdateDistributionCommand({ Id: id, IfMatch: current.ETag, DistributionConfig: { ...current.DistributionConfig, Enabled: false } }),
        );
      }
      let etag: string | undefined;
      await pollUntil(
        `distribution ${id} to deploy`,
        async () => {
          const state = await this.cloudFront.send(new GetDistributionCommand({ Id: id }));
          etag = state.ETag;
          return state.Distribution?.Status === 'Deployed' ? true : undefined;
        },
        this.wait,
      );
      await this.cloudFront.send(new DeleteDistributionCommand({ Id: id, IfMatch: etag }));
    } catch (error) {
      if (isAwsError(error, 'NoSuchDistribution')) return;
      throw error instanceof HostplaneError ? error : cloudFrontError(error, `removing distribution ${id}`);
    }
  }

  private async update(existing: DistributionSummary, config: DistributionConfig, tags: Tag[]): Promise<DistributionRef> {
    const id = existing.Id ?? '';
    const doing = `updating distribution ${id} (${config.Comment})`;
    const current = await cloudFrontCall(doing, () => this.cloudFront.send(new GetDistributionConfigCommand({ Id: id })));
    const updated = await cloudFrontCall(doing, () =>
      this.cloudFront.send(
        new UpdateDistributionCommand({
          Id: id,
          IfMatch: current.ETag,
          // The caller reference is fixed at creation.
          DistributionConfig: { ...config, CallerReference: current.DistributionConfig?.CallerReference ?? config.CallerReference },
        }),
      ),
    );
    const ref = refOf(updated.Distribution, doing);
    await cloudFrontCall(`tagging distribution ${id}`, () => this.cloudFront.send(new TagResourceCommand({ Resource: ref.arn, Tags: { Items: tags } })));
    return ref;
  }
}

function refOf(distribution: { Id?: string; ARN?: string; DomainName?: string } | undefined, doing: string): DistributionRef {
  if (!distribution?.Id || !distribution.ARN || !distribution.DomainName) throw new PermanentError(`${doing}: the answer names no distribution`);
  return { id: distribution.Id, arn: distribution.ARN, domainName: distribution.DomainName };
}
