import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, pathParameter } from '../../api/responses.js';
import { deploymentView } from '../../api/views.js';
import { NotFoundError } from '../../domain/errors.js';
import { tenantIdSchema } from '../../domain/tenant-id.js';
import { parseOrThrow } from '../../domain/validation.js';
import { ports } from '../../ports/index.js';
import { DeploymentRegistry } from '../../registry/deployment-registry.js';

/** GET /tenants/{id}/deployments/{deploymentId}: one deployment, with its definition. */
export async function getDeployment(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const tenantId = parseOrThrow(tenantIdSchema, pathParameter(event, 'id'), 'id');
  const deploymentId = pathParameter(event, 'deploymentId');
  const deployment = /^dep-[0-9a-f-]{36}$/.test(deploymentId) ? await new DeploymentRegistry(ports().sql).get(deploymentId) : undefined;
  if (!deployment || deployment.tenantId !== tenantId) throw new NotFoundError(`tenant ${tenantId} has no deployment ${deploymentId}`);
  return jsonResponse(200, deploymentView(deployment, { withDefinition: true }));
}

export const handler = httpHandler(getDeployment);
