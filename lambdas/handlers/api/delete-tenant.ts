import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { header, jsonResponse, pathParameter, requester } from '../../api/responses.js';
import { operationView } from '../../api/views.js';
import { requestDeprovision } from '../../deprovision/request-deprovision.js';
import { ports } from '../../ports/index.js';

/** DELETE /tenants/{id}: 202 with the deprovision operation; a replayed Idempotency-Key answers 200 with the first one. */
export async function deleteTenant(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { sql, workflows } = ports();
  const { operation, created } = await requestDeprovision(
    pathParameter(event, 'id'),
    { idempotencyKey: header(event, 'Idempotency-Key'), requestedBy: requester(event) },
    sql,
    workflows,
  );
  return jsonResponse(created ? 202 : 200, operationView(operation), { Location: `/operations/${operation.operationId}` });
}

export const handler = httpHandler(deleteTenant);
