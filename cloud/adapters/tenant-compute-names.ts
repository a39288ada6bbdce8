/**
 * The names of a tenant's compute parts in AWS, all derived from its service name (naming.ts's
 * `computeService`, `hp-<environment>-<cell>-<tenant>`), so that removal, which gets only the
 * service name, finds every part that ensureService made.
 */
import { ValidationError } from '../../lambdas/domain/errors.js';
import { fitName } from '../../lambdas/domain/naming.js';

/** `hp-<environment>-<cell>-<tenant>`: environment and cell hold no hyphen, so the tenant id is all after the third one. */
const SERVICE_NAME = /^hp-([a-z][a-z0-9]{0,11})-[a-z][a-z0-9]{0,7}-([a-z][a-z0-9-]{1,38}[a-z0-9])$/;

/** The only container of a tenant's task. */
export const TENANT_CONTAINER_NAME = 'app';

/** Every AWS name of one tenant's compute. */
export interface TenantComputeNames {
  readonly serviceName: string;
  readonly tenantId: string;
  readonly environment: string;
  /** Task definition family. */
  readonly family: string;
  /** IAM role of the tenant's tasks (IAM role names stop at 64 characters). */
  readonly taskRole: string;
  /** The IAM path of every tenant role of the environment, `/hostplane/<environment>/`: the control plane may create and pass roles under it only. */
  readonly taskRolePath: string;
  /** The inline policy on that role. */
  readonly taskRolePolicy: string;
  /** EFS CreateAccessPoint ClientToken and Cloud Map CreatorRequestId (both at most 64 characters). */
  readonly idempotencyToken: string;
  /** Cloud Map service: the tenant id, so its SRV name is `<tenant>.<namespace>`. */
  readonly discoveryService: string;
}

/** The tenant id inside a compute service name, or a ValidationError for a name of another shape. */
export function tenantIdOfService(serviceName: string): string {
  return parseServiceName(serviceName).tenantId;
}

function parseServiceName(serviceName: string): { environment: string; tenantId: string } {
  const match = SERVICE_NAME.exec(serviceName);
  if (!match?.[1] || !match[2] || match[2].includes('--')) {
    throw new ValidationError('serviceName', `must be hp-<environment>-<cell>-<tenant>, got ${JSON.stringify(serviceName)}`);
  }
  return { environment: match[1], tenantId: match[2] };
}

/** Whether `serviceName` has the shape of a tenant's compute service name. */
export function isTenantServiceName(serviceName: string): boolean {
  const match = SERVICE_NAME.exec(serviceName);
  return match?.[2] !== undefined && !match[2].includes('--');
}

export function tenantComputeNames(serviceName: string): TenantComputeNames {
  const { environment, tenantId } = parseServiceName(serviceName);
  return {
    serviceName,
    tenantId,
    environment,
    family: serviceName,
    taskRole: fitName(`${serviceName}-task`, 64),
    taskRolePath: `/hostplane/${environment}/`,
    taskRolePolicy: 'tenant-access',
    idempotencyToken: fitName(serviceName, 64),
    discoveryService: tenantId,
  };
}
