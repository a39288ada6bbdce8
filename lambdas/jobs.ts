/**
 * Steps that may outlast a Lambda (15 minutes) run as one-off ECS tasks on the cell's cluster,
 * through the Step Functions `ecs:runTask.sync` integration: the task runs the very handler a Lambda
 * would, with the cloud ports, and Step Functions waits for it to stop. Locally the engine runs the
 * handler in-process instead. The ASL names a job's task definition `${<Name>TaskDefinitionArn}`.
 */
export const JOBS = {
  BackupTenant: 'lambdas/handlers/backup-tenant.ts',
} as const;

export type JobName = keyof typeof JOBS;

/** The Step Functions integration that runs an ECS task and waits for it to stop. */
export const ECS_RUN_TASK_SYNC = 'arn:aws:states:::ecs:runTask.sync';

/** The one container of a job's task definition (ContainerOverrides name it). */
export const JOB_CONTAINER = 'job';

/** Which job the container runs (set in the task definition). */
export const JOB_NAME_VARIABLE = 'HOSTPLANE_JOB';

/**
 * A job's input, as a removal step's: the operation and the tenant. The ASL passes them as
 * container environment overrides (ECS caps all overrides at 8 KiB; a tenant's names are well under 1 KiB).
 */
export const JOB_OPERATION_ID_VARIABLE = 'HOSTPLANE_JOB_OPERATION_ID';
export const JOB_TENANT_VARIABLE = 'HOSTPLANE_JOB_TENANT';

export interface JobInput {
  readonly operationId: string;
  readonly tenant: { readonly tenantId: string; readonly names: unknown };
}

/** The job's input from its environment; a clear error naming the variable when one is missing or not what it should be. */
export function jobInputFromEnvironment(env: Readonly<Record<string, string | undefined>>): JobInput {
  const operationId = env[JOB_OPERATION_ID_VARIABLE];
  if (!operationId) throw new Error(`${JOB_OPERATION_ID_VARIABLE} is not set`);
  const tenantText = env[JOB_TENANT_VARIABLE];
  if (!tenantText) throw new Error(`${JOB_TENANT_VARIABLE} is not set`);
  let tenant: unknown;
  try {
    tenant = JSON.parse(tenantText);
  } catch {
    throw new Error(`${JOB_TENANT_VARIABLE} is not JSON`);
  }
  const tenantId = (tenant as { tenantId?: unknown } | null)?.tenantId;
  if (typeof tenantId !== 'string') throw new Error(`${JOB_TENANT_VARIABLE} has no tenantId`);
  return { operationId, tenant: tenant as JobInput['tenant'] };
}

/** Substitutions the stack supplies for the cell a job runs in. */
export const CELL_SUBSTITUTIONS = ['CellClusterArn', 'CellCapacityProviderName'] as const;
export type CellSubstitution = (typeof CELL_SUBSTITUTIONS)[number];

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}

/** `${BackupTenantTaskDefinitionArn}` → `BackupTenant`. */
export function jobOfPlaceholder(placeholder: string): JobName | undefined {
  const match = /^\$\{([A-Za-z0-9]+)TaskDefinitionArn\}$/.exec(placeholder);
  return match && isJobName(match[1]!) ? match[1] : undefined;
}

/** `${CellClusterArn}` → `CellClusterArn`. */
export function cellSubstitutionOfPlaceholder(placeholder: string): CellSubstitution | undefined {
  return CELL_SUBSTITUTIONS.find((name) => placeholder === `\${${name}}`);
}

