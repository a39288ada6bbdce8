import { z } from 'zod';
import { scopeSchema } from '../lambdas/domain/naming.js';

/**
 * The environment variables through which the CDK stack tells a Lambda where the cell's resources
 * are. One name per fact; the stack sets only the variables of the ports a function uses
 * (`lib/function-access.ts`), so each is optional here and {@link requireVariable} names the one
 * missing when a port is first used without it.
 */
export const CLOUD_VARIABLES = {
  environment: 'HOSTPLANE_ENVIRONMENT',
  cells: 'HOSTPLANE_CELLS',
  region: 'AWS_REGION',
  accountId: 'HOSTPLANE_ACCOUNT_ID',
  healthWaitSeconds: 'HOSTPLANE_HEALTH_WAIT_SECONDS',
  backupRetentionDays: 'HOSTPLANE_BACKUP_RETENTION_DAYS',
  databaseClusterArn: 'HOSTPLANE_DATABASE_CLUSTER_ARN',
  databaseSecretArn: 'HOSTPLANE_DATABASE_SECRET_ARN',
  databaseHost: 'HOSTPLANE_DATABASE_HOST',
  databasePort: 'HOSTPLANE_DATABASE_PORT',
  /** `pg`: CREATE/DROP DATABASE over a connection from the VPC (ADR 0005); `data-api`: through the Data API too. */
  databaseServerStatements: 'HOSTPLANE_DATABASE_SERVER_STATEMENTS',
  /** JSON, the cell's caches in index order: `[{ "id", "userGroupId", "host", "port", "noticesSecretArn" }]`. */
  caches: 'HOSTPLANE_CACHES',
  cluster: 'HOSTPLANE_CLUSTER',
  capacityProvider: 'HOSTPLANE_CAPACITY_PROVIDER',
  namespaceId: 'HOSTPLANE_NAMESPACE_ID',
  namespaceName: 'HOSTPLANE_NAMESPACE_NAME',
  fileSystemId: 'HOSTPLANE_FILE_SYSTEM_ID',
  tenantImage: 'HOSTPLANE_TENANT_IMAGE',
  tenantExecutionRoleArn: 'HOSTPLANE_TENANT_EXECUTION_ROLE_ARN',
  /** The managed policy every tenant task role is created with as its permissions boundary. */
  tenantPermissionsBoundaryArn: 'HOSTPLANE_TENANT_PERMISSIONS_BOUNDARY_ARN',
  tenantLogGroup: 'HOSTPLANE_TENANT_LOG_GROUP',
  appFilesMount: 'HOSTPLANE_APP_FILES_MOUNT',
  edgeMode: 'HOSTPLANE_EDGE_MODE',
  domain: 'HOSTPLANE_DOMAIN',
  hostedZoneId: 'HOSTPLANE_HOSTED_ZONE_ID',
  multiTenantDistributionId: 'HOSTPLANE_MULTI_TENANT_DISTRIBUTION_ID',
  /** The name CloudFront reaches the cell's ALB by over HTTPS (its listener holds a certificate for it). */
  loadBalancerDnsName: 'HOSTPLANE_LOAD_BALANCER_DNS_NAME',
  /** A us-east-1 certificate for `*.<domain>`, for dedicated distributions. */
  edgeCertificateArn: 'HOSTPLANE_EDGE_CERTIFICATE_ARN',
  /** Where the CloudFront functions' sources are, beside the bundle. */
  edgeFunctionsDir: 'HOSTPLANE_EDGE_FUNCTIONS_DIR',
  originSecretArn: 'HOSTPLANE_ORIGIN_SECRET_ARN',
  provisionStateMachineArn: 'HOSTPLANE_PROVISION_STATE_MACHINE_ARN',
  deployStateMachineArn: 'HOSTPLANE_DEPLOY_STATE_MACHINE_ARN',
  deprovisionStateMachineArn: 'HOSTPLANE_DEPROVISION_STATE_MACHINE_ARN',
  backupStateMachineArn: 'HOSTPLANE_BACKUP_STATE_MACHINE_ARN',
  eventBusName: 'HOSTPLANE_EVENT_BUS_NAME',
  backupBucket: 'HOSTPLANE_BACKUP_BUCKET',
  /** `https://<console distribution>`: the origin API answers allow (CORS). */
  consoleOrigin: 'HOSTPLANE_CONSOLE_ORIGIN',
} as const;

export type CloudVariable = keyof typeof CLOUD_VARIABLES;
export type CloudEnvironment = Readonly<Record<string, string | undefined>>;

/** Raised when a Lambda uses a port whose variables the stack did not give it: a wiring bug, named precisely. */
export class CloudConfigurationError extends Error {
  override readonly name = 'Hostplane.Configuration';
}

/** The value of `variable`, or a {@link CloudConfigurationError} naming it and what needed it. */
export function requireVariable(env: CloudEnvironment, variable: CloudVariable, neededFor: string): string {
  const name = CLOUD_VARIABLES[variable];
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new CloudConfigurationError(`${name} is not set, and ${neededFor} needs it (the stack sets it for functions granted that port)`);
  }
  return value;
}

/** An integer variable within bounds, or a clear error. */
export function integerVariable(env: CloudEnvironment, variable: CloudVariable, neededFor: string, min: number, max: number): number {
  const text = requireVariable(env, variable, neededFor);
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CloudConfigurationError(`${CLOUD_VARIABLES[variable]}=${JSON.stringify(text)} is not an integer from ${min} to ${max}`);
  }
  return value;
}

/** A cell as the stack describes it to the functions: its name and the limits that bound how many tenants it holds. */
export const cellDescriptionSchema = z.object({
  cell: scopeSchema.shape.cell,
  maxTenants: z.number().int().min(1),
  limits: z.record(z.string(), z.number().int().min(0)).optional(),
  caches: z.number().int().min(1).optional(),
  tenantsPerCache: z.number().int().min(1).optional(),
});

const cellsSchema = z.array(cellDescriptionSchema).min(1);

/** `HOSTPLANE_CELLS`: JSON, `[{ "cell": "c1", "maxTenants": 98, "limits": { … } }]`. */
export function cellsVariable(env: CloudEnvironment): z.output<typeof cellsSchema> {
  const text = requireVariable(env, 'cells', 'placement');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CloudConfigurationError(`${CLOUD_VARIABLES.cells} is not JSON: ${text.slice(0, 80)}`);
  }
  const result = cellsSchema.safeParse(parsed);
  if (!result.success) {
    throw new CloudConfigurationError(`${CLOUD_VARIABLES.cells} is not a list of cells: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}

/** One of the cell's caches as the stack describes it: its replication group, user group, TLS endpoint, and the control plane's publishing user. */
export const cacheDescriptionSchema = z.object({
  id: z.string().min(1),
  userGroupId: z.string().min(1),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  noticesSecretArn: z.string().min(1),
});
export type CacheDescription = z.output<typeof cacheDescriptionSchema>;

const cachesSchema = z.array(cacheDescriptionSchema).min(1);

/** `HOSTPLANE_CACHES`: the cell's caches, in the order a tenant plan's `cache.index` counts them. */
export function cachesVariable(env: CloudEnvironment, neededFor: string): CacheDescription[] {
  const text = requireVariable(env, 'caches', neededFor);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CloudConfigurationError(`${CLOUD_VARIABLES.caches} is not JSON: ${text.slice(0, 80)}`);
  }
  const result = cachesSchema.safeParse(parsed);
  if (!result.success) {
    throw new CloudConfigurationError(
      `${CLOUD_VARIABLES.caches} is not a list of caches ({ id, userGroupId, host, port, noticesSecretArn }): ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return result.data;
}
