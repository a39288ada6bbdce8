import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { header, jsonResponse, pathParameter, requester } from '../../api/responses.js';
import { operationView } from '../../api/views.js';
import { requestBackupOperation } from '../../backup/backup-operations.js';
import { ports } from '../../ports/index.js';

/** POST /tenants/{id}/backups: 202 with a `backup` operation, which ends SUCCEEDED with the backup's id; a replayed Idempotency-Key answers 200. */
export async function createBackup(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { sql, workflows } = ports();
  const { operation, created } = await requestBackupOperation(
    { kind: 'backup', tenantId: pathParameter(event, 'id'), idempotencyKey: header(event, 'Idempotency-Key'), requestedBy: requester(event) },
    sql,
    workflows,
  );
  return jsonResponse(created ? 202 : 200, operationView(operation), { Location: `/operations/${operation.operationId}` });
}

export const handler = httpHandler(createBackup);
