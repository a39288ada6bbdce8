import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { backupView } from '../../api/backup-views.js';
import { httpHandler } from '../../api/http-handler.js';
import { jsonBody, jsonResponse, pathParameter, requester } from '../../api/responses.js';
import { deploymentView, operationView } from '../../api/views.js';
import { requestRestore } from '../../backup/restore-request.js';
import { ports } from '../../ports/index.js';

/** POST /tenants/{id}/restore `{ backupId }`: the tenant's data replaced by the backup's; 200 with what was restored. */
export async function restoreTenantFromBackup(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const outcome = await requestRestore(pathParameter(event, 'id'), jsonBody(event), requester(event), ports());
  return jsonResponse(200, {
    operation: operationView(outcome.operation),
    backup: backupView(outcome.backup),
    entities: outcome.entities,
    deployment: outcome.deployment ? deploymentView(outcome.deployment) : null,
  });
}

export const handler = httpHandler(restoreTenantFromBackup);
