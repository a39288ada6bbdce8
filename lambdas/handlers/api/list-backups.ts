import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { backupView } from '../../api/backup-views.js';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, pathParameter } from '../../api/responses.js';
import { tenantIdSchema } from '../../domain/tenant-id.js';
import { parseOrThrow } from '../../domain/validation.js';
import { ports } from '../../ports/index.js';
import { BackupRegistry } from '../../registry/backup-registry.js';
import { TenantRegistry } from '../../registry/tenant-registry.js';

/** GET /tenants/{id}/backups: newest first, a deleted tenant's (and an earlier tenant of the same id's) included. */
export async function listBackups(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const tenantId = parseOrThrow(tenantIdSchema, pathParameter(event, 'id'), 'id');
  const { sql } = ports();
  await new TenantRegistry(sql).requireTenant(tenantId);
  return jsonResponse(200, { items: (await new BackupRegistry(sql).listForTenant(tenantId)).map(backupView) });
}

export const handler = httpHandler(listBackups);
