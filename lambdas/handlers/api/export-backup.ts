import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { header, jsonResponse, pathParameter, requester } from '../../api/responses.js';
import { operationView } from '../../api/views.js';
import { requestBackupOperation } from '../../backup/backup-operations.js';
import { ports } from '../../ports/index.js';

/**
 * POST /tenants/{id}/backups/{backupId}/export: 202 with an `export` operation, which writes the backup
 * as schema.json and a CSV per entity (one .tar.gz) to the backup store; GET /operations/{id} then
 * gives a link to it that lasts 15 minutes. A replayed Idempotency-Key answers 200.
 */
export async function exportTenantBackup(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { sql, workflows } = ports();
  const { operation, created } = await requestBackupOperation(
    {
      kind: 'export',
      tenantId: pathParameter(event, 'id'),
      backupId: pathParameter(event, 'backupId'),
      idempotencyKey: header(event, 'Idempotency-Key'),
      requestedBy: requester(event),
    },
    sql,
    workflows,
  );
  return jsonResponse(created ? 202 : 200, operationView(operation), { Location: `/operations/${operation.operationId}` });
}

export const handler = httpHandler(exportTenantBackup);
