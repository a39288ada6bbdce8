import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { apiErrors } from '../middleware/api-errors.js';

/** Our API Lambda: middy with headers normalized and domain errors answered as HTTP. */
export function httpHandler(route: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>().use(httpHeaderNormalizer()).use(apiErrors()).handler(route);
}
