/**
 * An environment variable filled from one key of a JSON secret when the service starts (ECS's
 * `secrets: [{ name, valueFrom: '<arn>:<key>::' }]`), so no secret value passes through a spec.
 */
export interface SecretEnvironmentVariable {
  readonly name: string;
  readonly secretName: string;
  readonly key: string;
  /** Left out when the secret or key does not exist (a cache that was skipped) instead of failing the start. */
  readonly optional?: boolean;
}

/** What a tenant's compute should be: its service, its size, its environment. */
export interface ComputeSpec {
  readonly serviceName: string;
  readonly tenantId: string;
  readonly displayName: string;
  /** The hard memory limit. */
  readonly memoryMb: number;
  /** What the service reserves on its host, soft (at most `memoryMb`). @default memoryMb */
  readonly memoryReservationMb?: number;
  readonly cpuUnits: number;
  /** Folder of the tenant's app files, relative to the app-files root. */
  readonly appFilesFolder: string;
  /** Secret names the service may read (database, cache). */
  readonly secretNames: readonly string[];
  /** Variables the service's processes get from those secrets. */
  readonly secretEnvironment: readonly SecretEnvironmentVariable[];
  /** The tenant's static-asset bucket, which the service may read and write (cloud: its task role's only S3 access). */
  readonly assetsBucket?: string;
}

export interface ComputeService {
  readonly serviceName: string;
  readonly running: boolean;
  /** Where the front door forwards: `host:port` locally, the Cloud Map SRV name in the cloud. */
  readonly endpoint: string;
}

/** Tenant compute (ECS services + Cloud Map in the cloud; supervised processes locally). */
export interface ComputePort {
  /** Starts the service, or adopts the one already running; resolves once it is serving. */
  ensureService(spec: ComputeSpec): Promise<ComputeService>;
  /** Stops and removes the service if present; says whether it was. */
  removeService(serviceName: string): Promise<boolean>;
  describeService(serviceName: string): Promise<ComputeService | undefined>;
  listServices(): Promise<string[]>;
}
