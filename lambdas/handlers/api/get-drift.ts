import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse } from '../../api/responses.js';
import { reconcileTenants } from '../reconcile-tenants.js';

/** GET /drift: the registry compared with what exists, per tenant (what `hostplane doctor` prints). */
export async function getDrift(_event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  return jsonResponse(200, await reconcileTenants({}));
}

export const handler = httpHandler(getDrift);
