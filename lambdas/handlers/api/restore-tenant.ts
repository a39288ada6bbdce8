import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { header, jsonBody, jsonResponse, pathParameter, requester } from '../../api/responses.js';
import { operationView } from '../../api/views.js';
import { requestBackupOperation, restoreRequestSchema } from '../../backup/backup-operations.js';
import { parseOrThrow } from '../../domain/validation.js';
import { ports } from '../../ports/index.js';

/** POST /tenants/{id}/restore `{ backupId }`: 202 with a `restore` operation, which ends with the rows restored (and the deployment it started when the backup's app differs). */
export async function restoreTenantFromBackup(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { backupId } = parseOrThrow(restoreRequestSchema, jsonBody(event));
  const { sql, workflows } = ports();
  const { operation, created } = await requestBackupOperation(
    { kind: 'restore', tenantId: pathParameter(event, 'id'), backupId, idempotencyKey: header(event, 'Idempotency-Key'), requestedBy: requester(event) },
    sql,
    workflows,
  );
  return jsonResponse(created ? 202 : 200, operationView(operation), { Location: `/operations/${operation.operationId}` });
}

export const handler = httpHandler(restoreTenantFromBackup);
