import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { DataApiError, badRequest } from './errors.js';

/**
 * The Data API's restJson1 wire shapes, as the SDK serializes them (member names from
 * `@aws-sdk/client-rds-data`'s schemas): blobs travel as base64 strings, longs as JSON numbers.
 */
export interface WireArrayValue {
  readonly booleanValues?: (boolean | null)[];
  readonly longValues?: (number | string | null)[];
  readonly doubleValues?: (number | null)[];
  readonly stringValues?: (string | null)[];
  readonly arrayValues?: WireArrayValue[];
}

export interface WireField {
  readonly isNull?: boolean;
  readonly booleanValue?: boolean;
  readonly longValue?: number | string;
  readonly doubleValue?: number;
  readonly stringValue?: string;
  readonly blobValue?: string;
  readonly arrayValue?: WireArrayValue;
}

export interface WireParameter {
  readonly name?: string;
  readonly value?: WireField;
  readonly typeHint?: string;
}

export interface ResultSetOptions {
  readonly longReturnType?: 'LONG' | 'STRING';
  readonly decimalReturnType?: 'STRING' | 'DOUBLE_OR_LONG';
}

export interface ExecuteStatementRequest {
  readonly resourceArn?: string;
  readonly secretArn?: string;
  readonly database?: string;
  readonly sql?: string;
  readonly parameters?: WireParameter[];
  readonly transactionId?: string;
  readonly includeResultMetadata?: boolean;
  readonly continueAfterTimeout?: boolean;
  readonly resultSetOptions?: ResultSetOptions;
  readonly formatRecordsAs?: 'NONE' | 'JSON';
}

export interface BatchExecuteStatementRequest {
  readonly resourceArn?: string;
  readonly secretArn?: string;
  readonly database?: string;
  readonly sql?: string;
  readonly parameterSets?: WireParameter[][];
  readonly transactionId?: string;
}

export interface BeginTransactionRequest {
  readonly resourceArn?: string;
  readonly secretArn?: string;
  readonly database?: string;
}

export interface EndTransactionRequest {
  readonly resourceArn?: string;
  readonly secretArn?: string;
  readonly transactionId?: string;
}

export interface ColumnMetadata {
  readonly name: string;
  readonly label: string;
  readonly type: number;
  readonly typeName: string;
  readonly schemaName: string;
  readonly tableName: string;
  readonly isAutoIncrement: boolean;
  readonly isSigned: boolean;
  readonly isCurrency: boolean;
  readonly isCaseSensitive: boolean;
  readonly nullable: number;
  readonly precision: number;
  readonly scale: number;
  readonly arrayBaseColumnType: number;
}

export interface ExecuteStatementResponse {
  readonly records?: WireField[][];
  readonly columnMetadata?: ColumnMetadata[];
  readonly numberOfRecordsUpdated: number;
  readonly generatedFields: WireField[];
  readonly formattedRecords?: string;
}

/** Reads a JSON request body (at most `limitBytes`); an empty body is `{}`. */
export async function readJsonBody(request: IncomingMessage, limitBytes: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limitBytes) throw badRequest(`Request body is larger than ${limitBytes} bytes`);
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const body: unknown = JSON.parse(text);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    return body as Record<string, unknown>;
  } catch {
    throw new DataApiError('BadRequestException', 'The request body is not a JSON object');
  }
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  response.end(body);
}

export function sendJson(response: ServerResponse, body: string): void {
  send(response, 200, body);
}

/** restJson1 errors: the shape name in `x-amzn-errortype`, the members (`message`) in the body. */
export function sendError(response: ServerResponse, error: DataApiError): void {
  send(response, error.status, JSON.stringify({ message: error.message }), { 'x-amzn-errortype': error.errorType });
}
