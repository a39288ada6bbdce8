import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ValidationError } from '../domain/errors.js';

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** The JSON body of a request, or a 400 that says the body is not JSON. */
export function jsonBody(event: APIGatewayProxyEvent): unknown {
  if (!event.body) throw new ValidationError('body', 'is required (a JSON object)');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError('body', 'is not valid JSON');
  }
}

/** A header, whatever its case (httpHeaderNormalizer lowercases them; this also works without it). */
export function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const found = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === wanted);
  return found?.[1] ?? undefined;
}

/** Who is calling: the Cognito user in the cloud, the operator's login name locally. */
export function requester(event: APIGatewayProxyEvent): string {
  const claims = (event.requestContext?.authorizer as { claims?: Record<string, string> } | null | undefined)?.claims;
  return claims?.email ?? claims?.['cognito:username'] ?? claims?.sub ?? 'anonymous';
}

export function pathParameter(event: APIGatewayProxyEvent, name: string): string {
  const value = event.pathParameters?.[name];
  if (!value) throw new ValidationError(name, 'is required in the path');
  return value;
}
