import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, pathParameter } from '../../api/responses.js';
import { operationView } from '../../api/views.js';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
import { ports } from '../../ports/index.js';
import { TenantRegistry } from '../../registry/tenant-registry.js';

/** GET /operations/{id}: the operation and the states it has passed so far. */
export async function getOperation(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const operationId = pathParameter(event, 'id');
  if (!/^op-[0-9a-f-]{36}$/.test(operationId)) throw new ValidationError('id', 'is not an operation id (op-<uuid>)');
  const registry = new TenantRegistry(ports().sql);
  const operation = await registry.getOperation(operationId);
  if (!operation) throw new NotFoundError(`no operation ${operationId}`);
  return jsonResponse(200, operationView(operation, await registry.listSteps(operationId)));
}

export const handler = httpHandler(getOperation);
