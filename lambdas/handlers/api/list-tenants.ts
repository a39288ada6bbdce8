import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse } from '../../api/responses.js';
import { tenantView } from '../../api/views.js';
import { ports } from '../../ports/index.js';
import { TenantRegistry } from '../../registry/tenant-registry.js';

/** GET /tenants (`?includeDeleted=true` shows deleted ones too). */
export async function listTenants(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const includeDeleted = event.queryStringParameters?.includeDeleted === 'true';
  const tenants = await new TenantRegistry(ports().sql).listTenants({ includeDeleted });
  return jsonResponse(200, { items: tenants.map(tenantView) });
}

export const handler = httpHandler(listTenants);
