/** `src/entity-api.ts` of a generated app: REST CRUD for one entity of the model. */
export const ENTITY_API_SOURCE = String.raw`import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { RowCache } from './cache.js';
import { databaseErrorAnswer, toApiRow, type Row } from './database.js';
import { methodNotAllowed, notFound, readJsonBody, send, sendJson } from './http.js';
import type { EntityModel, Scalar } from './types.js';
import { encodeCursor, parseId, readInput, readListQuery } from './validation.js';

export interface ApiContext {
  readonly pool: pg.Pool;
  readonly cache: RowCache | undefined;
}

/**
 *   GET    /api/<entity>?<field>=<value>&limit=&cursor=   { items, next }
 *   POST   /api/<entity>                                  201 and the row
 *   GET    /api/<entity>/<id>                             the row
 *   PATCH  /api/<entity>/<id>                             the row, updated_at set
 *   DELETE /api/<entity>/<id>                             204
 */
export async function handleEntity(
  context: ApiContext,
  entity: EntityModel,
  req: IncomingMessage,
  res: ServerResponse,
  idSegment: string | undefined,
  params: URLSearchParams,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (idSegment === undefined) {
    if (method === 'GET' || method === 'HEAD') return list(context, entity, res, params);
    if (method === 'POST') return create(context, entity, req, res);
    throw methodNotAllowed(['GET', 'HEAD', 'POST']);
  }
  const id = parseId(idSegment);
  if (id === undefined) throw notFound('no ' + entity.name + ' with id ' + JSON.stringify(idSegment));
  if (method === 'GET' || method === 'HEAD') return get(context, entity, res, id);
  if (method === 'PATCH') return patch(context, entity, req, res, id);
  if (method === 'DELETE') return remove(context, entity, res, id);
  throw methodNotAllowed(['GET', 'HEAD', 'PATCH', 'DELETE']);
}

async function run(context: ApiContext, entity: EntityModel, operation: 'read' | 'write' | 'delete', sql: string, values: Scalar[], id?: number): Promise<Row[]> {
  try {
    const result = await context.pool.query<Row>(sql, values);
    return result.rows;
  } catch (error) {
    throw databaseErrorAnswer(entity, operation === 'delete' ? 'delete' : 'write', error, id) ?? error;
  }
}

async function list(context: ApiContext, entity: EntityModel, res: ServerResponse, params: URLSearchParams): Promise<void> {
  const query = readListQuery(entity, params);
  const values: Scalar[] = [];
  const where: string[] = [];
  for (const [field, value] of query.filters) {
    values.push(value);
    where.push(field.column + ' = $' + values.length);
  }
  values.push(query.after);
  where.push('"id" > $' + values.length);
  values.push(query.limit + 1);
  const sql = 'SELECT ' + entity.columns + ' FROM ' + entity.table + ' WHERE ' + where.join(' AND ') + ' ORDER BY "id" LIMIT $' + values.length;
  const rows = await run(context, entity, 'read', sql, values);
  const items = rows.slice(0, query.limit).map((row) => toApiRow(entity, row));
  const last = items[items.length - 1];
  const next = rows.length > query.limit && last && typeof last.id === 'number' ? encodeCursor(last.id) : null;
  sendJson(res, 200, { items, next });
}

async function create(context: ApiContext, entity: EntityModel, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const input = readInput(entity, await readJsonBody(req), 'create');
  const columns = input.map(([field]) => field.column);
  const values = input.map(([, value]) => value);
  const placeholders = values.map((_, index) => '$' + (index + 1));
  const sql = columns.length === 0
    ? 'INSERT INTO ' + entity.table + ' DEFAULT VALUES RETURNING ' + entity.columns
    : 'INSERT INTO ' + entity.table + ' (' + columns.join(', ') + ') VALUES (' + placeholders.join(', ') + ') RETURNING ' + entity.columns;
  const [row] = await run(context, entity, 'write', sql, values);
  if (!row) throw new Error('insert returned no row');
  const item = toApiRow(entity, row);
  sendJson(res, 201, item, { location: '/api/' + entity.name + '/' + String(item.id) });
}

async function get(context: ApiContext, entity: EntityModel, res: ServerResponse, id: number): Promise<void> {
  const cached = await context.cache?.get(entity.name, id);
  if (cached) return sendJson(res, 200, cached, { 'x-cache': 'hit' });
  const [row] = await run(context, entity, 'read', 'SELECT ' + entity.columns + ' FROM ' + entity.table + ' WHERE "id" = $1', [id]);
  if (!row) throw notFound('no ' + entity.name + ' with id ' + id);
  const item = toApiRow(entity, row);
  if (context.cache) await context.cache.set(entity.name, id, item);
  sendJson(res, 200, item, context.cache ? { 'x-cache': 'miss' } : {});
}

async function patch(context: ApiContext, entity: EntityModel, req: IncomingMessage, res: ServerResponse, id: number): Promise<void> {
  const input = readInput(entity, await readJsonBody(req), 'patch');
  const values: Scalar[] = input.map(([, value]) => value);
  const assignments = input.map(([field], index) => field.column + ' = $' + (index + 1));
  assignments.push('"updated_at" = now()');
  values.push(id);
  const sql = 'UPDATE ' + entity.table + ' SET ' + assignments.join(', ') + ' WHERE "id" = $' + values.length + ' RETURNING ' + entity.columns;
  const [row] = await run(context, entity, 'write', sql, values, id);
  await context.cache?.forget(entity.name, id);
  if (!row) throw notFound('no ' + entity.name + ' with id ' + id);
  sendJson(res, 200, toApiRow(entity, row));
}

async function remove(context: ApiContext, entity: EntityModel, res: ServerResponse, id: number): Promise<void> {
  const rows = await run(context, entity, 'delete', 'DELETE FROM ' + entity.table + ' WHERE "id" = $1 RETURNING "id"', [id], id);
  await context.cache?.forget(entity.name, id);
  if (rows.length === 0) throw notFound('no ' + entity.name + ' with id ' + id);
  send(res, 204, { 'cache-control': 'no-store' });
}
`;
