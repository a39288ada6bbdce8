import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { apiErrors } from '../middleware/api-errors.js';
import { ports } from '../ports/index.js';

/**
 * The origin a browser may read answers from: the console's, when it is served from elsewhere (the
 * cloud: CloudFront), and only when the request comes from it. Locally the console is same-origin.
 */
function consoleOrigin(incoming: string | undefined): string {
  const allowed = ports().config.consoleOrigin;
  // '' sets no Access-Control-Allow-Origin header at all.
  return allowed !== undefined && incoming === allowed ? allowed : '';
}

/**
 * Our API Lambda: middy with headers normalized, domain errors answered as HTTP, and the console's
 * origin allowed to read the answer (errors included: the CORS middleware's onError runs after
 * apiErrors has made the response).
 */
export function httpHandler(route: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(httpHeaderNormalizer())
    .use(httpCors({ getOrigin: consoleOrigin, exposeHeaders: 'Location' }))
    .use(apiErrors())
    .handler(route);
}
