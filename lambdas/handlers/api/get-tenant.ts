import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, pathParameter } from '../../api/responses.js';
import { operationView, tenantView } from '../../api/views.js';
import { tenantIdSchema } from '../../domain/tenant-id.js';
import { parseOrThrow } from '../../domain/validation.js';
import { ports } from '../../ports/index.js';
import { TenantRegistry } from '../../registry/tenant-registry.js';

/** GET /tenants/{id}: the tenant and its operations, newest first. */
export async function getTenant(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const tenantId = parseOrThrow(tenantIdSchema, pathParameter(event, 'id'), 'id');
  const registry = new TenantRegistry(ports().sql);
  const tenant = await registry.requireTenant(tenantId);
  const operations = await registry.listOperations(tenantId);
  return jsonResponse(200, { ...tenantView(tenant), operations: operations.map((op) => operationView(op)) });
}

export const handler = httpHandler(getTenant);
