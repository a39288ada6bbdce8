import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, requester } from '../../api/responses.js';
import { reconcileTenants } from '../reconcile-tenants.js';

/** POST /drift/fix: removes the orphans of deleted (or unknown) tenants, then reports again. */
export async function fixDrift(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  return jsonResponse(200, await reconcileTenants({ fix: true, requestedBy: requester(event) }));
}

export const handler = httpHandler(fixDrift);
