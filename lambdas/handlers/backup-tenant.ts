import middy from '@middy/core';
import type { FinalBackup } from '../backup/confirm-final-backup.js';
import { takeBackup } from '../backup/take-backup.js';
import type { RemovalStepInput } from '../deprovision/deprovision-input.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import type { OperationRecord } from '../registry/records.js';
import { TenantRegistry } from '../registry/tenant-registry.js';

/**
 * BackupTenant: deprovision's final backup, kept for the retention period, skipped when there is no
 * database left; or, run by the backup machine for a `backup` operation, a manual one (which a
 * tenant without a database fails). A job (`lambdas/jobs.ts`): an ECS task in the cloud, in-process locally.
 */
export async function backupTenantStep(event: RemovalStepInput): Promise<FinalBackup> {
  const all = ports();
  const operation: OperationRecord | undefined = await new TenantRegistry(all.sql).getOperation(event.operationId);
  const backup = await takeBackup(
    {
      tenantId: event.tenant.tenantId,
      reason: operation?.kind === 'backup' ? 'manual' : 'final',
      operationId: event.operationId,
      requestedBy: operation?.requestedBy ?? 'hostplane',
    },
    all,
  );
  return backup ? { backupId: backup.backupId, rows: backup.rows, bytes: backup.bytes } : { skipped: 'the tenant has no database to back up' };
}

export const handler = middy<RemovalStepInput, FinalBackup>().use(trackStep('BackupTenant')).handler(backupTenantStep);
