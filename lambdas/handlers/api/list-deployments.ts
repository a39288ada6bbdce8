import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, pathParameter } from '../../api/responses.js';
import { deploymentView } from '../../api/views.js';
import { tenantIdSchema } from '../../domain/tenant-id.js';
import { parseOrThrow } from '../../domain/validation.js';
import { ports } from '../../ports/index.js';
import { DeploymentRegistry } from '../../registry/deployment-registry.js';
import { TenantRegistry } from '../../registry/tenant-registry.js';

/** GET /tenants/{id}/deployments: the tenant's deployments, newest first (the last 50). */
export async function listDeployments(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const tenantId = parseOrThrow(tenantIdSchema, pathParameter(event, 'id'), 'id');
  const { sql } = ports();
  await new TenantRegistry(sql).requireTenant(tenantId);
  const deployments = await new DeploymentRegistry(sql).listForTenant(tenantId);
  return jsonResponse(200, { items: deployments.map((deployment) => deploymentView(deployment)) });
}

export const handler = httpHandler(listDeployments);
