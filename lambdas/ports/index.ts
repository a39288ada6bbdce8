import type { AppFilesPort } from './app-files.js';
import type { BackupStorePort } from './backup-store.js';
import type { CacheUsersPort } from './cache-users.js';
import type { ComputePort } from './compute.js';
import type { EdgePort } from './edge.js';
import type { EventsPort } from './events.js';
import type { NoticesPort } from './notices.js';
import type { SecretsPort } from './secrets.js';
import type { SqlPort } from './sql.js';
import type { WorkflowsPort } from './workflows.js';

/** Facts about the platform the handlers run against. */
export interface PlatformConfig {
  readonly environment: string;
  /** Cells tenants may be placed in, with their limits. */
  readonly cells: readonly {
    readonly cell: string;
    readonly maxTenants: number;
    readonly limits?: Readonly<Record<string, number>>;
    /** How many caches the cell has (`Ports.cacheUsers` and `Ports.notices` hold one port each). @default 1 */
    readonly caches?: number;
    /** How many tenants' users one cache holds. @default no limit */
    readonly tenantsPerCache?: number;
  }[];
  /**
   * Where tenant processes reach the database server, and whether they must use TLS there (the
   * cloud's Aurora: always; the local world: when its admin URL asks for it). @default tls false
   */
  readonly databaseEndpoint: { readonly host: string; readonly port: number; readonly tls?: boolean };
  /** How long a deploy waits for the tenant's runtime to report a new release healthy. @default 90 */
  readonly healthWaitSeconds?: number;
  /** How long deprovision's final backup of a tenant is kept. @default 30 */
  readonly backupRetentionDays?: number;
  /** Where the operators' console is served from, when that is another origin than the API's (the cloud); API answers allow it. */
  readonly consoleOrigin?: string;
}

/** Everything a handler may reach outside itself. Each world (cloud, local) supplies one. */
export interface Ports {
  readonly config: PlatformConfig;
  readonly sql: SqlPort;
  /** One per cache of the cell, by the index a tenant's plan records (`cacheOf` picks it); locally one Redis. */
  readonly cacheUsers: readonly CacheUsersPort[];
  readonly secrets: SecretsPort;
  readonly compute: ComputePort;
  readonly appFiles: AppFilesPort;
  readonly edge: EdgePort;
  readonly workflows: WorkflowsPort;
  readonly events: EventsPort;
  /** One per cache of the cell, like `cacheUsers`: a tenant's notices go on the cache it lives on. */
  readonly notices: readonly NoticesPort[];
  readonly backups: BackupStorePort;
}

let configured: Ports | undefined;

/** Installs the adapters of the world this process runs in. Called once by the composition root. */
export function configurePorts(ports: Ports): void {
  configured = ports;
}

export function resetPorts(): void {
  configured = undefined;
}

/** The adapters handlers use. Throws a clear error if no world installed them. */
export function ports(): Ports {
  if (!configured) {
    throw new Error('Hostplane ports are not configured: start the local control plane or load the cloud adapters first');
  }
  return configured;
}

export type { AppFilesPort, BackupStorePort, CacheUsersPort, ComputePort, EdgePort, EventsPort, NoticesPort, SecretsPort, SqlPort, WorkflowsPort };
