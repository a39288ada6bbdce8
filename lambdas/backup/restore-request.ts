import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseAppDefinition } from '../app-definition/app-definition-schema.js';
import { definitionFingerprint } from '../app-definition/migration-plan.js';
import { requestDeployment, type DeploymentRequested } from '../deploy/request-deployment.js';
import { deployedDefinition } from '../deploy/tenant-schema.js';
import { ConflictError, errorMessage, NotFoundError } from '../domain/errors.js';
import { tenantIdSchema } from '../domain/tenant-id.js';
import { parseOrThrow } from '../domain/validation.js';
import type { Ports } from '../ports/index.js';
import { BackupRegistry, type BackupRecord } from '../registry/backup-registry.js';
import type { OperationRecord } from '../registry/records.js';
import { TenantRegistry } from '../registry/tenant-registry.js';
import { restoreTenant } from './restore-tenant.js';

const restoreRequestSchema = z.strictObject({
  backupId: z.string({ error: 'is required (a backup id, bk-…)' }).regex(/^bk-[0-9A-Za-z-]{1,80}$/, 'is not a backup id (bk-…)'),
});

export interface RestoreOutcome {
  readonly operation: OperationRecord;
  readonly backup: BackupRecord;
  readonly entities: readonly { readonly entity: string; readonly rows: number }[];
  /** The backup's app differs from what the tenant ran: it is deployed again so the app matches its data. */
  readonly deployment: DeploymentRequested['deployment'] | null;
}

/**
 * What `POST /tenants/{id}/restore` does: under the tenant's lock (a running restore operation),
 * the tenant's own database is replaced by the backup, in one transaction (no other tenant is
 * touched: each has a database of its own). A backup of an earlier tenant of the same id may be
 * restored into the one that exists now. When the backup's app is not the one the tenant runs, the
 * backup's app is deployed again (its schema already matches: the deploy migrates nothing).
 */
export async function requestRestore(
  tenantIdParam: string,
  body: unknown,
  requestedBy: string,
  ports: Pick<Ports, 'sql' | 'backups' | 'workflows'>,
): Promise<RestoreOutcome> {
  const { sql, backups: store, workflows } = ports;
  const tenantId = parseOrThrow(tenantIdSchema, tenantIdParam, 'id');
  const { backupId } = parseOrThrow(restoreRequestSchema, body);
  const backup = await new BackupRegistry(sql).get(backupId);
  if (!backup || backup.tenantId !== tenantId) throw new NotFoundError(`tenant ${tenantId} has no backup ${backupId}`);

  const operationId = `op-${randomUUID()}`;
  const { names } = await TenantRegistry.inTransaction(sql, async (registry) => {
    const tenant = await registry.getTenant(tenantId, { forUpdate: true });
    if (!tenant) throw new NotFoundError(`no tenant ${tenantId}`);
    if (tenant.status !== 'ACTIVE' || !tenant.plan) {
      throw new ConflictError(`tenant ${tenantId} is ${tenant.status}: only an ACTIVE tenant can be restored into (provision it again first)`, {
        tenantId,
        status: tenant.status,
      });
    }
    const running = await registry.runningOperation(tenantId);
    if (running) throw new ConflictError(`tenant ${tenantId} already has a ${running.kind} operation running`, { operationId: running.operationId });
    const recorded = await registry.insertOperation({ operationId, tenantId, kind: 'restore', input: { backupId }, requestedBy });
    await registry.audit({ actor: requestedBy, action: 'tenant.restore.requested', tenantId, operationId, detail: { backupId } });
    return { operation: recorded, names: tenant.plan.names };
  });

  let entities: { entity: string; rows: number }[];
  let runningDefinition: unknown;
  try {
    runningDefinition = await deployedDefinition(sql, names);
    entities = (await restoreTenant({ sql, store, names, prefix: backup.location })).entities.map(({ entity, rows }) => ({ entity, rows }));
  } catch (error) {
    const reason = `restore of ${backupId} failed: ${errorMessage(error)}`;
    await TenantRegistry.inTransaction(sql, async (registry) => {
      await registry.finishOperation(operationId, 'FAILED', reason);
      await registry.audit({ actor: requestedBy, action: 'tenant.restore.failed', tenantId, operationId, detail: { backupId, reason } });
    });
    throw error;
  }
  await TenantRegistry.inTransaction(sql, async (registry) => {
    await registry.finishOperation(operationId, 'SUCCEEDED');
    await registry.audit({ actor: requestedBy, action: 'tenant.restore.succeeded', tenantId, operationId, detail: { backupId, entities } });
  });

  const restoredDefinition = await deployedDefinition(sql, names);
  const sameApp =
    restoredDefinition === null ||
    (runningDefinition !== null && definitionFingerprint(parseAppDefinition(runningDefinition)) === definitionFingerprint(restoredDefinition));
  const deployment = sameApp
    ? null
    : (await requestDeployment(tenantId, { definition: restoredDefinition }, { requestedBy: `restore:${backupId}` }, sql, workflows)).deployment;
  return { operation: (await new TenantRegistry(sql).getOperation(operationId))!, backup, entities, deployment };
}
