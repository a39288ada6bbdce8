import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ConflictError, errorMessage, NotFoundError } from '../domain/errors.js';
import { checkIdempotencyKey, requestHashOf } from '../domain/idempotency.js';
import type { TenantResourceNames } from '../domain/naming.js';
import { tenantIdSchema } from '../domain/tenant-id.js';
import { parseOrThrow } from '../domain/validation.js';
import type { SqlPort } from '../ports/sql.js';
import type { WorkflowsPort } from '../ports/workflows.js';
import { BackupRegistry } from '../registry/backup-registry.js';
import type { OperationRecord } from '../registry/records.js';
import { TenantRegistry } from '../registry/tenant-registry.js';

/** The operations the backup state machine runs. */
export type BackupOperationKind = 'backup' | 'restore' | 'export';

/** The backup machine's input (`statemachines/backup.asl.json`). `tenant` is what a job reads (`lambdas/jobs.ts`). */
export interface BackupExecutionInput {
  readonly operationId: string;
  readonly tenantId: string;
  readonly kind: BackupOperationKind;
  /** The backup restored or exported; null for a backup (its id is made when it is taken). */
  readonly backupId: string | null;
  readonly requestedBy: string;
  readonly tenant: { readonly tenantId: string; readonly names: TenantResourceNames | null };
}

export const backupIdSchema = z.string({ error: 'is required (a backup id, bk-…)' }).regex(/^bk-[0-9A-Za-z-]{1,80}$/, 'is not a backup id (bk-…)');

/** `POST /tenants/{id}/restore`'s body. */
export const restoreRequestSchema = z.strictObject({ backupId: backupIdSchema });

export interface BackupOperationRequest {
  readonly kind: BackupOperationKind;
  readonly tenantId: string;
  /** For a restore or an export. */
  readonly backupId?: string;
  readonly idempotencyKey?: string;
  readonly requestedBy: string;
}

/**
 * What `POST /tenants/{id}/backups`, `POST /tenants/{id}/restore` and `POST …/backups/{backupId}/export`
 * do: check the request, record a running operation (the tenant's lock: one operation at a time per
 * tenant, a 409 names the running one) and start the backup state machine, which does the work and
 * closes the operation. A backup or a restore needs an ACTIVE tenant; a backup of a deleted tenant can
 * still be exported. A repeated Idempotency-Key returns the first operation.
 */
export async function requestBackupOperation(
  request: BackupOperationRequest,
  sql: SqlPort,
  workflows: WorkflowsPort,
): Promise<{ operation: OperationRecord; created: boolean }> {
  const { kind, idempotencyKey, requestedBy } = request;
  const tenantId = parseOrThrow(tenantIdSchema, request.tenantId, 'id');
  const backupId = kind === 'backup' ? null : parseOrThrow(backupIdSchema, request.backupId, 'backupId');
  checkIdempotencyKey(idempotencyKey);
  const requestHash = requestHashOf({ [kind]: tenantId, backupId });
  const earlier = await new TenantRegistry(sql).replayedOperation(idempotencyKey, requestHash);
  if (earlier) return { operation: earlier, created: false };
  if (backupId) {
    const backup = await new BackupRegistry(sql).get(backupId);
    if (!backup || backup.tenantId !== tenantId) throw new NotFoundError(`tenant ${tenantId} has no backup ${backupId}`);
  }

  const operationId = `op-${randomUUID()}`;
  const { operation, input } = await TenantRegistry.inTransaction(sql, async (registry) => {
    const tenant = await registry.getTenant(tenantId, { forUpdate: true });
    if (!tenant) throw new NotFoundError(`no tenant ${tenantId}`);
    if (kind !== 'export' && (tenant.status !== 'ACTIVE' || !tenant.plan)) {
      const what = kind === 'backup' ? 'only an ACTIVE tenant is backed up on request' : 'only an ACTIVE tenant can be restored into (provision it again first)';
      throw new ConflictError(`tenant ${tenantId} is ${tenant.status}: ${what}`, { tenantId, status: tenant.status });
    }
    const running = await registry.runningOperation(tenantId);
    if (running) {
      throw new ConflictError(`tenant ${tenantId} already has a ${running.kind} operation running (${running.operationId})`, { operationId: running.operationId });
    }
    const input: BackupExecutionInput = { operationId, tenantId, kind, backupId, requestedBy, tenant: { tenantId, names: tenant.plan?.names ?? null } };
    const recorded = await registry.insertOperation({ operationId, tenantId, kind, input: { backupId }, requestedBy, idempotencyKey, requestHash });
    await registry.audit({ actor: requestedBy, action: `tenant.${kind}.requested`, tenantId, operationId, detail: { backupId } });
    return { operation: recorded, input };
  });

  try {
    const { executionId } = await workflows.start('backup', operationId, { ...input });
    await new TenantRegistry(sql).setExecution(operationId, executionId);
  } catch (error) {
    await new TenantRegistry(sql).finishOperation(operationId, 'FAILED', `the backup state machine could not be started: ${errorMessage(error)}`);
    throw error;
  }
  return { operation, created: true };
}
