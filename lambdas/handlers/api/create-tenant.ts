import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { header, jsonBody, jsonResponse, requester } from '../../api/responses.js';
import { operationView } from '../../api/views.js';
import { ports } from '../../ports/index.js';
import { requestProvision } from '../../provision/request-provision.js';

/** POST /tenants: 202 with the provision operation; a replayed Idempotency-Key answers 200 with the first one. */
export async function createTenant(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { sql, workflows } = ports();
  const { operation, created } = await requestProvision(
    jsonBody(event),
    { idempotencyKey: header(event, 'Idempotency-Key'), requestedBy: requester(event) },
    sql,
    workflows,
  );
  return jsonResponse(created ? 202 : 200, operationView(operation), { Location: `/operations/${operation.operationId}` });
}

export const handler = httpHandler(createTenant);
