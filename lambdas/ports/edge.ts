import type { StaticAssetFiles } from '../domain/static-assets.js';

/** A tenant's route at the front door: its host label to its compute endpoint. */
export interface TenantRoute {
  readonly tenantId: string;
  readonly hostLabel: string;
  readonly endpoint: string;
  /** Where static assets are served from (a bucket, or a folder locally). */
  readonly assetsBucket: string;
}

/** What {@link EdgePort.publishStaticAssets} did. */
export interface StaticAssetsPublished {
  readonly releaseId: string;
  /** Files written (every file of the release, each time: a retry repairs a partial run). */
  readonly written: number;
  /** Files of earlier releases removed because this one does not have them. */
  readonly removed: number;
}

/** The edge (S3 + CloudFront + Route 53 + ACM in the cloud; a local front door routing `<tenant>.localhost`). */
export interface EdgePort {
  /** Creates the tenant's static-asset store if missing. */
  ensureStaticAssets(assetsBucket: string): Promise<void>;
  /** Removes the static-asset store and its content if present; says whether it was. */
  removeStaticAssets(assetsBucket: string): Promise<boolean>;
  staticAssetsExist(assetsBucket: string): Promise<boolean>;
  /** Names of the static-asset stores that start with `prefix` (this environment's: `hp-<env>-`), sorted. */
  listStaticAssets(prefix: string): Promise<string[]>;
  /**
   * Makes a release's front end (`files`: its `public/` folder, keyed by path inside it) what the
   * tenant's front serves: each file under the key the front requests (see `domain/static-assets.ts`),
   * with its Content-Type and Cache-Control, pages last; then whatever an earlier release left that
   * is not in `files` is removed. The store holds one release's front end, the current one: a
   * rollback publishes the earlier release again. Safe to run twice.
   */
  publishStaticAssets(assetsBucket: string, releaseId: string, files: StaticAssetFiles): Promise<StaticAssetsPublished>;
  /** Creates or replaces the tenant's route; returns the URL it is served at. */
  registerRoute(route: TenantRoute): Promise<{ url: string }>;
  /**
   * The tenant's service now serves another release: connections the edge keeps idle to it may
   * lead to the process that is draining, so they are not reused (the next request opens a new one).
   * Where the edge's connections cannot be reached (the cloud: Caddy's), a no-op that says why.
   */
  dropIdleConnections(hostLabel: string): Promise<void>;
  /** Removes the route if present; says whether it was. */
  removeRoute(hostLabel: string): Promise<boolean>;
  getRoute(hostLabel: string): Promise<TenantRoute | undefined>;
  /** Every route this front door serves, by host label. */
  listRoutes(): Promise<TenantRoute[]>;
  /** The URL a tenant is (or would be) served at. */
  urlFor(hostLabel: string): string;
}
