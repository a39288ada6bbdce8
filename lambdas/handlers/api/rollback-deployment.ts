import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { header, jsonResponse, pathParameter, requester } from '../../api/responses.js';
import { deploymentView } from '../../api/views.js';
import { requestRollback } from '../../deploy/request-deployment.js';
import { ports } from '../../ports/index.js';

/** POST /tenants/{id}/deployments/{deploymentId}/rollback: 202 with the rollback deployment. */
export async function rollbackDeployment(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { sql, workflows } = ports();
  const { deployment, created } = await requestRollback(
    pathParameter(event, 'id'),
    pathParameter(event, 'deploymentId'),
    { idempotencyKey: header(event, 'Idempotency-Key'), requestedBy: requester(event) },
    sql,
    workflows,
  );
  const view = deploymentView(deployment);
  return jsonResponse(created ? 202 : 200, view, { Location: view.links.self });
}

export const handler = httpHandler(rollbackDeployment);
