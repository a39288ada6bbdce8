import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { httpHandler } from '../../api/http-handler.js';
import { jsonResponse, pathParameter } from '../../api/responses.js';
import { operationView } from '../../api/views.js';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
import { DOWNLOAD_LINK_SECONDS, type BackupStorePort, type DownloadLink } from '../../ports/backup-store.js';
import { ports } from '../../ports/index.js';
import type { OperationRecord } from '../../registry/records.js';
import { TenantRegistry } from '../../registry/tenant-registry.js';

/**
 * GET /operations/{id}: the operation and the states it has passed so far; for an export that
 * succeeded, `download`: a link to its archive made now, lasting 15 minutes (ask again for a new one).
 */
export async function getOperation(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const operationId = pathParameter(event, 'id');
  if (!/^op-[0-9a-f-]{36}$/.test(operationId)) throw new ValidationError('id', 'is not an operation id (op-<uuid>)');
  const { sql, backups } = ports();
  const registry = new TenantRegistry(sql);
  const operation = await registry.getOperation(operationId);
  if (!operation) throw new NotFoundError(`no operation ${operationId}`);
  const download = await downloadOf(operation, backups);
  return jsonResponse(200, { ...operationView(operation, await registry.listSteps(operationId)), ...(download ? { download } : {}) });
}

async function downloadOf(operation: OperationRecord, backups: BackupStorePort): Promise<DownloadLink | undefined> {
  const key = (operation.result as { key?: unknown } | null)?.key;
  if (operation.kind !== 'export' || operation.status !== 'SUCCEEDED' || typeof key !== 'string') return undefined;
  return backups.link(key, DOWNLOAD_LINK_SECONDS);
}

export const handler = httpHandler(getOperation);
