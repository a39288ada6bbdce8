import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { backupView } from '../../api/backup-views.js';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, pathParameter, requester } from '../../api/responses.js';
import { takeBackup } from '../../backup/take-backup.js';
import { ConflictError } from '../../domain/errors.js';
import { tenantIdSchema } from '../../domain/tenant-id.js';
import { parseOrThrow } from '../../domain/validation.js';
import { ports } from '../../ports/index.js';
import { TenantRegistry } from '../../registry/tenant-registry.js';

/** POST /tenants/{id}/backups: a restorable backup of the tenant's data, taken now (201). */
export async function createBackup(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const tenantId = parseOrThrow(tenantIdSchema, pathParameter(event, 'id'), 'id');
  const all = ports();
  const tenant = await new TenantRegistry(all.sql).requireTenant(tenantId);
  if (tenant.status !== 'ACTIVE') throw new ConflictError(`tenant ${tenantId} is ${tenant.status}: only an ACTIVE tenant is backed up on request`, { tenantId, status: tenant.status });
  const backup = (await takeBackup({ tenantId, reason: 'manual', requestedBy: requester(event) }, all))!;
  return jsonResponse(201, backupView(backup), { Location: `/tenants/${tenantId}/backups/${backup.backupId}` });
}

export const handler = httpHandler(createBackup);
