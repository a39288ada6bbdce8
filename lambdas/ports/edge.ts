/** A tenant's route at the front door: its host label to its compute endpoint. */
export interface TenantRoute {
  readonly tenantId: string;
  readonly hostLabel: string;
  readonly endpoint: string;
  /** Where static assets are served from (a bucket, or a folder locally). */
  readonly assetsBucket: string;
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
  /** Creates or replaces the tenant's route; returns the URL it is served at. */
  registerRoute(route: TenantRoute): Promise<{ url: string }>;
  /**
   * The tenant's service now serves another release: connections the edge keeps idle to it may
   * lead to the process that is draining, so they are not reused (the next request opens a new one).
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
