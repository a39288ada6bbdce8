import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseAppDefinition } from '../app-definition/app-definition-schema.js';
import { ConflictError, errorMessage, NotFoundError, ValidationError } from '../domain/errors.js';
import { checkIdempotencyKey, requestHashOf } from '../domain/idempotency.js';
import { tenantIdSchema } from '../domain/tenant-id.js';
import { parseOrThrow } from '../domain/validation.js';
import type { SqlPort } from '../ports/sql.js';
import type { WorkflowsPort } from '../ports/workflows.js';
import { DeploymentRegistry, type DeploymentRecord, type NewDeployment } from '../registry/deployment-registry.js';
import type { OperationRecord } from '../registry/records.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import type { DeployExecutionInput } from './deploy-input.js';
import { planTenantMigration } from './tenant-schema.js';

export interface DeploymentRequested {
  readonly deployment: DeploymentRecord;
  readonly operation: OperationRecord;
  /** False when an Idempotency-Key replay returned the first request's deployment. */
  readonly created: boolean;
}

export interface RequestOptions {
  readonly idempotencyKey?: string;
  readonly requestedBy: string;
}

const deployRequestSchema = z.strictObject({
  definition: z.unknown().refine((value) => value !== undefined, 'is required (an app definition)'),
  allowDestructive: z.boolean({ error: 'must be true or false' }).default(false),
});

const DEPLOYMENT_ID = /^dep-[0-9a-f-]{36}$/;

export function newDeploymentId(): string {
  return `dep-${randomUUID()}`;
}

/**
 * What `POST /tenants/{id}/deployments` does: validates the definition (every violation, with its
 * path), refuses at once a change that needs `allowDestructive`, records a running deploy operation
 * (the tenant's lock) and the deployment, then starts the deploy state machine.
 */
export async function requestDeployment(
  tenantIdParam: string,
  body: unknown,
  options: RequestOptions,
  sql: SqlPort,
  workflows: WorkflowsPort,
): Promise<DeploymentRequested> {
  const tenantId = parseOrThrow(tenantIdSchema, tenantIdParam, 'id');
  const request = parseOrThrow(deployRequestSchema, body);
  const definition = parseAppDefinition(request.definition);
  checkIdempotencyKey(options.idempotencyKey);
  const requestHash = requestHashOf({ tenantId, definition, allowDestructive: request.allowDestructive });
  const replayed = await replayIfKnown(sql, options.idempotencyKey, requestHash);
  if (replayed) return replayed;

  const tenant = await activeTenant(sql, tenantId);
  // The same check PlanMigrations makes, made here too so the requester hears it at once.
  await planTenantMigration(sql, tenant.plan!.names, definition, { allowDestructive: request.allowDestructive });

  return startDeployment(sql, workflows, {
    tenantId,
    kind: 'deploy',
    app: definition.name,
    // Kept as written: the parsed form spells out every default and can be larger than the limit it passed.
    definition: request.definition,
    allowDestructive: request.allowDestructive,
    requestedBy: options.requestedBy,
    idempotencyKey: options.idempotencyKey,
    requestHash,
  });
}

/**
 * What `POST /tenants/{id}/deployments/{deploymentId}/rollback` does: a new deployment, of kind
 * rollback, that makes current again the release the given deployment replaced. It runs through
 * the same state machine (the build is reproducible, so a pruned release is rebuilt byte for byte)
 * but skips migrations: the schema stays as it is, which the older app reads (changes are additive).
 */
export async function requestRollback(
  tenantIdParam: string,
  deploymentId: string,
  options: RequestOptions,
  sql: SqlPort,
  workflows: WorkflowsPort,
): Promise<DeploymentRequested> {
  const tenantId = parseOrThrow(tenantIdSchema, tenantIdParam, 'id');
  if (!DEPLOYMENT_ID.test(deploymentId)) throw new ValidationError('deploymentId', 'is not a deployment id (dep-<uuid>)');
  checkIdempotencyKey(options.idempotencyKey);
  const requestHash = requestHashOf({ tenantId, rollbackOf: deploymentId });
  const replayed = await replayIfKnown(sql, options.idempotencyKey, requestHash);
  if (replayed) return replayed;

  const deployments = new DeploymentRegistry(sql);
  const target = await deployments.get(deploymentId);
  if (!target || target.tenantId !== tenantId) throw new NotFoundError(`tenant ${tenantId} has no deployment ${deploymentId}`);
  if (target.status !== 'SUCCEEDED') {
    throw new ConflictError(`deployment ${deploymentId} is ${target.status}: only a deployment that succeeded can be rolled back`, { deploymentId });
  }
  const previous = target.previousReleaseId;
  if (!previous || previous === target.releaseId) {
    throw new ConflictError(`deployment ${deploymentId} replaced no other release, so there is nothing to roll back to`, { deploymentId });
  }
  const source = await deployments.lastSucceededWithRelease(tenantId, previous);
  if (!source) throw new ConflictError(`no deployment of release ${previous} is recorded, so it cannot be rebuilt`, { deploymentId });
  await activeTenant(sql, tenantId);

  return startDeployment(sql, workflows, {
    tenantId,
    kind: 'rollback',
    app: parseAppDefinition(source.definition).name,
    definition: source.definition,
    allowDestructive: false,
    rollbackOf: deploymentId,
    requestedBy: options.requestedBy,
    idempotencyKey: options.idempotencyKey,
    requestHash,
  });
}

/** A deployment to record (its definition as the requester wrote it, already validated), and how its request is told apart. */
type StartRequest = Omit<NewDeployment, 'deploymentId' | 'operationId'> & {
  readonly idempotencyKey?: string;
  readonly requestHash: string;
};

async function startDeployment(sql: SqlPort, workflows: WorkflowsPort, request: StartRequest): Promise<DeploymentRequested> {
  const operationId = `op-${randomUUID()}`;
  const deploymentId = newDeploymentId();
  const input: DeployExecutionInput = { operationId, deploymentId };
  let recorded: { operation: OperationRecord; deployment: DeploymentRecord };
  try {
    recorded = await TenantRegistry.inTransaction(sql, async (registry) => {
      const tenant = await registry.getTenant(request.tenantId, { forUpdate: true });
      if (tenant?.status !== 'ACTIVE') throw notActive(request.tenantId, tenant?.status);
      const operation = await registry.insertOperation({
        operationId,
        tenantId: request.tenantId,
        kind: 'deploy',
        input,
        requestedBy: request.requestedBy,
        idempotencyKey: request.idempotencyKey,
        requestHash: request.requestHash,
      });
      const deployment = await new DeploymentRegistry(registry.executor).insert({
        deploymentId,
        tenantId: request.tenantId,
        operationId,
        kind: request.kind,
        app: request.app,
        definition: request.definition,
        allowDestructive: request.allowDestructive,
        rollbackOf: request.rollbackOf,
        requestedBy: request.requestedBy,
      });
      await registry.audit({
        actor: request.requestedBy,
        action: `tenant.${request.kind}.requested`,
        tenantId: request.tenantId,
        operationId,
        detail: { deploymentId, app: request.app, ...(request.rollbackOf ? { rollbackOf: request.rollbackOf } : {}) },
      });
      return { operation, deployment };
    });
  } catch (error) {
    // Two requests with the same key at once: the loser replays the winner.
    if (error instanceof ConflictError && request.idempotencyKey) {
      const replayed = await replayIfKnown(sql, request.idempotencyKey, request.requestHash);
      if (replayed) return replayed;
    }
    throw error;
  }

  try {
    const { executionId } = await workflows.start('deploy', operationId, { ...input });
    await new TenantRegistry(sql).setExecution(operationId, executionId);
  } catch (error) {
    const reason = `the deploy state machine could not be started: ${errorMessage(error)}`;
    await TenantRegistry.inTransaction(sql, async (registry) => {
      await registry.finishOperation(operationId, 'FAILED', reason);
      await new DeploymentRegistry(registry.executor).finish(deploymentId, 'FAILED', { error: reason });
    });
    throw error;
  }
  return { ...recorded, created: true };
}

async function activeTenant(sql: SqlPort, tenantId: string) {
  const registry = new TenantRegistry(sql);
  const tenant = await registry.requireTenant(tenantId);
  if (tenant.status !== 'ACTIVE' || !tenant.plan) throw notActive(tenantId, tenant.status);
  const running = await registry.runningOperation(tenantId);
  if (running) {
    throw new ConflictError(`tenant ${tenantId} already has a ${running.kind} operation running`, { operationId: running.operationId });
  }
  return tenant;
}

function notActive(tenantId: string, status: string | undefined): ConflictError {
  return new ConflictError(`tenant ${tenantId} is ${status ?? 'unknown'}: only an ACTIVE tenant can be deployed to`, {
    tenantId,
    status: status ?? 'unknown',
  });
}

async function replayIfKnown(sql: SqlPort, idempotencyKey: string | undefined, requestHash: string): Promise<DeploymentRequested | undefined> {
  if (!idempotencyKey) return undefined;
  const operation = await new TenantRegistry(sql).findOperationByIdempotencyKey(idempotencyKey);
  if (!operation) return undefined;
  if (operation.requestHash !== requestHash || operation.kind !== 'deploy') {
    throw new ConflictError('this Idempotency-Key was used before with a different request', { operationId: operation.operationId });
  }
  const { deploymentId } = operation.input as Partial<DeployExecutionInput>;
  const deployment = deploymentId ? await new DeploymentRegistry(sql).get(deploymentId) : undefined;
  if (!deployment) throw new ConflictError('this Idempotency-Key was used before with a different request', { operationId: operation.operationId });
  return { deployment, operation, created: false };
}
