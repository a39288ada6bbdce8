import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { TenantId } from './tenant-id.js';

/** Where a tenant lives: one environment (dev, prod, a test run) and one cell within it. */
export interface Scope {
  readonly environment: string;
  readonly cell: string;
}

export const scopeSchema = z.object({
  environment: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,11}$/, 'environment must be 1-12 lowercase letters or digits, starting with a letter'),
  cell: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,7}$/, 'cell must be 1-8 lowercase letters or digits, starting with a letter'),
});

/** Every name a tenant's resources carry, derived from (environment, cell, tenant) and nothing else. */
export interface TenantResourceNames {
  readonly tenantId: TenantId;
  /** PostgreSQL database of the tenant. */
  readonly database: string;
  /** PostgreSQL login role of the tenant. */
  readonly role: string;
  /** The schema the tenant's role owns inside its database. */
  readonly schema: string;
  /** Cache (Redis ACL / ElastiCache) user. */
  readonly cacheUser: string;
  /** Keys the cache user may touch. The cache is per cell, so the tenant id alone scopes it. */
  readonly cacheKeyPattern: string;
  /** Pub/sub channels the cache user may use. */
  readonly cacheChannelPattern: string;
  readonly databaseSecret: string;
  readonly cacheSecret: string;
  /** The tenant's compute service (ECS service; locally its supervised process). */
  readonly computeService: string;
  /** Static assets (S3 bucket in the cloud; a folder locally). */
  readonly assetsBucket: string;
  /** Folder of the tenant's app files (EFS access point root; a folder locally). */
  readonly appFilesFolder: string;
  /** The DNS label the tenant is served under. */
  readonly hostLabel: string;
}

const POSTGRES_IDENTIFIER_MAX = 63;
const CACHE_USER_MAX = 40;
const BUCKET_MAX = 63;

/**
 * Shortens `name` to `max` characters, keeping it unique: a name that is too long keeps its start
 * and gets a hash of the whole appended, so two long names never become one. The separator is
 * doubled (`--`, `__`), which no tenant id can contain, so a shortened name is never the whole
 * name of another tenant (`…-ra-1bc05502` would be a valid tenant id's own name).
 */
export function fitName(name: string, max: number, separator: '-' | '_' = '-'): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  const joint = separator.repeat(2);
  return `${name.slice(0, max - hash.length - joint.length)}${joint}${hash}`;
}

export function registryDatabaseName(environment: string): string {
  return `hp_${scopeSchema.shape.environment.parse(environment)}_registry`;
}

export function tenantResourceNames(scope: Scope, tenantId: TenantId): TenantResourceNames {
  const { environment, cell } = scopeSchema.parse(scope);
  const dashed = `hp-${environment}-${cell}-${tenantId}`;
  const underscored = `hp_${environment}_${cell}_${tenantId.replaceAll('-', '_')}`;
  const secretPrefix = `hostplane/${environment}/${cell}/${tenantId}`;
  return {
    tenantId,
    database: fitName(underscored, POSTGRES_IDENTIFIER_MAX, '_'),
    role: fitName(`${underscored}_app`, POSTGRES_IDENTIFIER_MAX, '_'),
    schema: 'app',
    cacheUser: fitName(dashed, CACHE_USER_MAX),
    cacheKeyPattern: `t:${tenantId}:*`,
    cacheChannelPattern: `t:${tenantId}:*`,
    databaseSecret: `${secretPrefix}/database`,
    cacheSecret: `${secretPrefix}/cache`,
    computeService: dashed,
    assetsBucket: fitName(`${dashed}-assets`, BUCKET_MAX),
    appFilesFolder: `tenants/${tenantId}`,
    hostLabel: tenantId,
  };
}
