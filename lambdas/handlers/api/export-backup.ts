import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, pathParameter } from '../../api/responses.js';
import { exportBackup } from '../../backup/export-tenant.js';
import { NotFoundError } from '../../domain/errors.js';
import { tenantIdSchema } from '../../domain/tenant-id.js';
import { parseOrThrow } from '../../domain/validation.js';
import { ports } from '../../ports/index.js';
import { BackupRegistry } from '../../registry/backup-registry.js';

/** GET /tenants/{id}/backups/{backupId}/export: the backup in open formats, `{ files: { "schema.json": …, "<entity>.csv": … } }`. */
export async function exportTenantBackup(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const tenantId = parseOrThrow(tenantIdSchema, pathParameter(event, 'id'), 'id');
  const backupId = pathParameter(event, 'backupId');
  const { sql, backups } = ports();
  const backup = await new BackupRegistry(sql).get(backupId);
  if (!backup || backup.tenantId !== tenantId) throw new NotFoundError(`tenant ${tenantId} has no backup ${backupId}`);
  const files = await exportBackup(backups, backup.location);
  return jsonResponse(200, { backupId, tenantId, files: Object.fromEntries(files) });
}

export const handler = httpHandler(exportTenantBackup);
