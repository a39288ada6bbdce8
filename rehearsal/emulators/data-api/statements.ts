import type pg from 'pg';
import type { CustomTypesConfig, FieldDef, QueryArrayConfig } from 'pg';
import { DataApiError, RESPONSE_TOO_LARGE_MESSAGE, fromDatabaseError, type SqlErrorType } from './errors.js';
import { toColumnMetadata, toField, toFormattedRecords, precisionAndScale, type PgTypeInfo, type RawValue } from './fields.js';
import { bindParameters, type BoundStatement } from './parameters.js';
import type { ExecuteStatementRequest, ExecuteStatementResponse, WireParameter } from './protocol.js';

export interface StatementSettings {
  readonly sqlErrorType: SqlErrorType;
  /** The largest response body answered; past it the call fails as the service's does. */
  readonly responseSizeLimitBytes: number;
}

/** Every value comes back as PostgreSQL's text: fields.ts types it the way the Data API does. */
const rawText = ((() => (value: string) => value) as unknown) as CustomTypesConfig['getTypeParser'];

/**
 * Runs one statement over pg's extended protocol (so PostgreSQL refuses several statements in one
 * call, as the Data API does), with the parameters declared as the types bindParameters chose. pg
 * sends `types` as the Parse message's parameter types and asks it for the row parsers: one array
 * that carries both.
 */
async function run(client: pg.ClientBase, bound: BoundStatement, sqlErrorType: SqlErrorType): Promise<pg.QueryArrayResult<RawValue[]>> {
  const types = Object.assign([...bound.types], { getTypeParser: rawText });
  const config: QueryArrayConfig<(string | Buffer | null)[]> & { readonly queryMode: 'extended' } = {
    text: bound.text,
    values: bound.values,
    types,
    rowMode: 'array',
    queryMode: 'extended',
  };
  try {
    return await client.query<RawValue[]>(config);
  } catch (error) {
    throw fromDatabaseError(error, sqlErrorType);
  }
}

/** The first OID PostgreSQL gives to objects made after initdb: below it, a type is the same in every database. */
const FIRST_NORMAL_OBJECT_ID = 16_384;

/** Type names by OID: built-in ones shared, others (enums, domains, …) per database. */
export class TypeCatalog {
  private readonly builtIn = new Map<number, PgTypeInfo>();
  private readonly byDatabase = new Map<string, Map<number, PgTypeInfo>>();

  async resolve(client: pg.ClientBase, database: string, oids: readonly number[]): Promise<(oid: number) => PgTypeInfo> {
    const local = this.byDatabase.get(database) ?? new Map<number, PgTypeInfo>();
    this.byDatabase.set(database, local);
    const cacheOf = (oid: number) => (oid < FIRST_NORMAL_OBJECT_ID ? this.builtIn : local);
    const missing = [...new Set(oids)].filter((oid) => !cacheOf(oid).has(oid));
    if (missing.length > 0) {
      const { rows } = await client.query<{ oid: string; name: string; element: string | null }>({
        text: `SELECT t.oid::int8 AS oid, t.typname AS name, e.typname AS element
                 FROM pg_catalog.pg_type t
                 LEFT JOIN pg_catalog.pg_type e ON t.typcategory = 'A' AND e.oid = t.typelem
                WHERE t.oid = ANY($1::oid[])`,
        values: [missing.map(String)],
        types: { getTypeParser: rawText },
      });
      for (const row of rows) {
        const oid = Number(row.oid);
        cacheOf(oid).set(oid, row.element === null ? { name: row.name } : { name: row.name, element: row.element });
      }
    }
    return (oid) => cacheOf(oid).get(oid) ?? { name: 'unknown' };
  }
}

/** ExecuteStatement on a session: the response body, JSON, within the size limit. */
export async function executeStatement(
  client: pg.ClientBase,
  database: string,
  request: ExecuteStatementRequest,
  catalog: TypeCatalog,
  settings: StatementSettings,
): Promise<string> {
  const bound = bindParameters(request.sql ?? '', request.parameters);
  const result = await run(client, bound, settings.sqlErrorType);
  const response = await toResponse(client, database, result, request, catalog);
  const body = JSON.stringify(response);
  if (Buffer.byteLength(body) > settings.responseSizeLimitBytes) throw new DataApiError('BadRequestException', RESPONSE_TOO_LARGE_MESSAGE);
  return body;
}

async function toResponse(
  client: pg.ClientBase,
  database: string,
  result: pg.QueryArrayResult<RawValue[]>,
  request: ExecuteStatementRequest,
  catalog: TypeCatalog,
): Promise<ExecuteStatementResponse> {
  const columns: readonly FieldDef[] = result.fields ?? [];
  // A statement with a result set reports no updated records, as the service does (JDBC's update count is -1 then).
  if (columns.length === 0) return { numberOfRecordsUpdated: result.rowCount ?? 0, generatedFields: [] };
  const typeOf = await catalog.resolve(
    client,
    database,
    columns.map((column) => column.dataTypeID),
  );
  const options = request.resultSetOptions ?? {};
  const records = result.rows.map((row) =>
    row.map((raw, i) => {
      const column = columns[i]!;
      const type = typeOf(column.dataTypeID);
      return toField(raw, type, options, precisionAndScale(column, type).scale);
    }),
  );
  const columnMetadata = request.includeResultMetadata ? columns.map((column) => toColumnMetadata(column, typeOf(column.dataTypeID))) : undefined;
  const asJson = request.formatRecordsAs === 'JSON';
  return {
    ...(asJson ? { formattedRecords: toFormattedRecords(records, columns) } : { records }),
    ...(columnMetadata ? { columnMetadata } : {}),
    numberOfRecordsUpdated: 0,
    generatedFields: [],
  };
}

/** BatchExecuteStatement: the statement once per parameter set (an empty list runs it once, without parameters). */
export async function executeBatch(
  client: pg.ClientBase,
  sql: string,
  parameterSets: readonly (readonly WireParameter[])[],
  sqlErrorType: SqlErrorType,
): Promise<string> {
  const sets = parameterSets.length === 0 ? [[]] : parameterSets;
  const updateResults: { generatedFields: never[] }[] = [];
  for (const parameters of sets) {
    await run(client, bindParameters(sql, parameters), sqlErrorType);
    updateResults.push({ generatedFields: [] });
  }
  return JSON.stringify({ updateResults });
}
