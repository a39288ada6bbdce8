import { definitionFingerprint } from '../app-definition/migration-plan.js';
import { requestDeployment } from '../deploy/request-deployment.js';
import { deployedDefinition } from '../deploy/tenant-schema.js';
import { errorMessage, NotFoundError, PermanentError } from '../domain/errors.js';
import type { TenantResourceNames } from '../domain/naming.js';
import type { Ports } from '../ports/index.js';
import { describeCaughtError, type CaughtError } from '../provision/workflow-input.js';
import { BackupRegistry, type BackupRecord } from '../registry/backup-registry.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import type { BackupOperationKind } from './backup-operations.js';
import { tarGz } from './export-archive.js';
import { exportBackup } from './export-tenant.js';
import { restoreTenant } from './restore-tenant.js';

/** What RestoreBackup and WriteExport get (`statemachines/backup.asl.json`). */
export interface BackupWorkInput {
  readonly operationId: string;
  readonly tenant: { readonly tenantId: string; readonly names: TenantResourceNames | null };
  readonly backupId: string;
}

export interface Restored {
  readonly backupId: string;
  readonly entities: readonly { readonly entity: string; readonly rows: number }[];
  /** The backup's app is not the one the tenant ran: FinishBackupOperation deploys it again, so the code matches the data. */
  readonly redeploy: boolean;
}

export interface Exported {
  readonly backupId: string;
  /** The archive's key in the backup store. */
  readonly key: string;
  readonly bytes: number;
  readonly files: readonly string[];
}

async function backupOf(tenantId: string, backupId: string, sql: Ports['sql']): Promise<BackupRecord> {
  const backup = await new BackupRegistry(sql).get(backupId);
  if (!backup || backup.tenantId !== tenantId) throw new NotFoundError(`tenant ${tenantId} has no backup ${backupId}`);
  return backup;
}

/**
 * RestoreBackup: the tenant's own database replaced by the backup, in one transaction (no other
 * tenant is touched: each has a database of its own); a backup of an earlier tenant of the same id
 * may be restored into the one that exists now. Says whether the backup's app differs from the one
 * the tenant ran.
 */
export async function restoreBackupStep(input: BackupWorkInput, ports: Pick<Ports, 'sql' | 'backups'>): Promise<Restored> {
  const { sql, backups: store } = ports;
  const { names, tenantId } = input.tenant;
  if (!names) throw new PermanentError(`tenant ${tenantId} has no resources to restore into`);
  const backup = await backupOf(tenantId, input.backupId, sql);
  const running = await deployedDefinition(sql, names);
  const { entities } = await restoreTenant({ sql, store, names, prefix: backup.location });
  const restored = await deployedDefinition(sql, names);
  const redeploy = restored !== null && (running === null || definitionFingerprint(running) !== definitionFingerprint(restored));
  return { backupId: backup.backupId, entities: entities.map(({ entity, rows }) => ({ entity, rows })), redeploy };
}

/** Where an export's archive goes: beside the environment's backups, never under a backup's own prefix. */
export function exportKey(environment: string, tenantId: string, operationId: string, backupId: string): string {
  return `${environment}/exports/${tenantId}/${operationId}/${tenantId}-${backupId}.tar.gz`;
}

/** WriteExport: the backup (verified as a restore verifies it) as schema.json and a CSV per entity, one .tar.gz in the backup store. */
export async function writeExportStep(input: BackupWorkInput, ports: Pick<Ports, 'sql' | 'backups' | 'config'>): Promise<Exported> {
  const { sql, backups: store, config } = ports;
  const { tenantId } = input.tenant;
  const backup = await backupOf(tenantId, input.backupId, sql);
  const files = await exportBackup(store, backup.location);
  const archive = tarGz(`${tenantId}-${backup.backupId}`, files, new Date(backup.createdAt));
  const key = exportKey(config.environment, tenantId, input.operationId, backup.backupId);
  await store.write(key, archive);
  return { backupId: backup.backupId, key, bytes: archive.length, files: [...files.keys()] };
}

export interface FinishInput {
  readonly operationId: string;
  readonly kind: BackupOperationKind;
  /** What the work step answered (for a backup, the job's task: the backup itself is found in the registry). */
  readonly outcome: unknown;
}

/**
 * FinishBackupOperation: the operation SUCCEEDED with what it gave: a backup's id and size (the one
 * the job recorded for this operation: never claimed without it), the rows restored, the export's
 * key. After a restore of another app, that app is deployed again once the restore's lock is
 * released; the deployment is added to the result. A second run changes nothing.
 */
export async function finishBackupOperation(input: FinishInput, ports: Pick<Ports, 'sql' | 'workflows'>): Promise<{ result: unknown }> {
  const { sql, workflows } = ports;
  const registry = new TenantRegistry(sql);
  const operation = await registry.getOperation(input.operationId);
  if (!operation) throw new NotFoundError(`no operation ${input.operationId}`);
  let result: Record<string, unknown>;
  if (input.kind === 'backup') {
    const backup = await new BackupRegistry(sql).forOperation(input.operationId);
    if (!backup) throw new PermanentError(`the BackupTenant job stopped without recording a backup of ${operation.tenantId}`);
    result = { backupId: backup.backupId, entities: backup.entities, rows: backup.rows, bytes: backup.bytes };
  } else if (input.kind === 'restore') {
    const { backupId, entities } = input.outcome as Restored;
    result = { backupId, entities, deploymentId: null };
  } else {
    const { backupId, key, bytes, files } = input.outcome as Exported;
    result = { backupId, key, bytes, files };
  }
  const closed = await TenantRegistry.inTransaction(sql, async (tx) => {
    if (!(await tx.finishOperation(input.operationId, 'SUCCEEDED', undefined, result))) return false;
    await tx.audit({ actor: operation.requestedBy, action: `tenant.${input.kind}.succeeded`, tenantId: operation.tenantId, operationId: input.operationId, detail: result });
    return true;
  });
  if (!closed) return { result: (await registry.getOperation(input.operationId))?.result ?? null };

  if (input.kind === 'restore' && (input.outcome as Restored).redeploy) {
    const tenant = await registry.requireTenant(operation.tenantId);
    const definition = tenant.plan ? await deployedDefinition(sql, tenant.plan.names) : null;
    try {
      const { deployment } = await requestDeployment(operation.tenantId, { definition }, { requestedBy: `restore:${result.backupId as string}` }, sql, workflows);
      result = { ...result, deploymentId: deployment.deploymentId, deploymentOperationId: deployment.operationId };
    } catch (error) {
      // The data is restored; the redeploy can be asked for by hand. Say why it did not start.
      result = { ...result, deploymentError: `the backup's app could not be deployed again: ${errorMessage(error)}` };
    }
    await registry.recordOperationResult(input.operationId, result);
  }
  return { result };
}

export interface FailInput {
  readonly operationId: string;
  readonly kind: BackupOperationKind;
  readonly error?: CaughtError;
}

/**
 * FailBackupOperation: the operation FAILED with the reason. The failed step's own error (recorded by
 * the step, the job's too) says it best; else the error Step Functions caught. The tenant's data is as
 * it was: a backup only reads, a restore is one transaction, an export writes only its archive.
 */
export async function failBackupOperation(input: FailInput, ports: Pick<Ports, 'sql'>): Promise<{ reason: string }> {
  const registry = new TenantRegistry(ports.sql);
  const failedStep = (await registry.listSteps(input.operationId)).filter((step) => step.status === 'FAILED').at(-1);
  const reason = failedStep?.error ? `${failedStep.state}: ${failedStep.error}` : input.error ? describeCaughtError(input.error) : 'unknown error';
  await TenantRegistry.inTransaction(ports.sql, async (tx) => {
    const operation = await tx.getOperation(input.operationId);
    if (operation && (await tx.finishOperation(input.operationId, 'FAILED', reason))) {
      await tx.audit({ actor: 'hostplane', action: `tenant.${input.kind}.failed`, tenantId: operation.tenantId, operationId: input.operationId, detail: { reason } });
    }
  });
  return { reason };
}
