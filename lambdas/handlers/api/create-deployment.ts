import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { header, jsonBody, jsonResponse, pathParameter, requester } from '../../api/responses.js';
import { deploymentView } from '../../api/views.js';
import { requestDeployment } from '../../deploy/request-deployment.js';
import { ports } from '../../ports/index.js';

/** POST /tenants/{id}/deployments: 202 with the deployment; a replayed Idempotency-Key answers 200 with the first one. */
export async function createDeployment(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { sql, workflows } = ports();
  const { deployment, created } = await requestDeployment(
    pathParameter(event, 'id'),
    jsonBody(event),
    { idempotencyKey: header(event, 'Idempotency-Key'), requestedBy: requester(event) },
    sql,
    workflows,
  );
  const view = deploymentView(deployment);
  return jsonResponse(created ? 202 : 200, view, { Location: view.links.self });
}

export const handler = httpHandler(createDeployment);
