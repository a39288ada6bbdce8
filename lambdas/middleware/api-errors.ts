import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ConflictError, ErrorNames, NotFoundError, ValidationError } from '../domain/errors.js';
import { jsonResponse } from '../api/responses.js';

/**
 * Turns domain errors into API answers: 400 naming the field, 404, 409 with the running
 * operation's id; anything else is a 500 that says nothing of the internals (the log has it).
 */
export function apiErrors(
  options: { log?: (message: string, error: unknown) => void } = {},
): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const log = options.log ?? ((message, error) => console.error(message, error));
  return {
    onError: async (request) => {
      const error = request.error;
      if (error instanceof ValidationError) {
        const { problems, refused } = error as ValidationError & { problems?: readonly string[]; refused?: readonly string[] };
        request.response = jsonResponse(400, {
          error: 'ValidationError',
          field: error.field,
          message: error.message,
          ...(problems ? { problems } : {}),
          ...(refused ? { refused } : {}),
        });
      } else if (error instanceof NotFoundError) {
        request.response = jsonResponse(404, { error: 'NotFound', message: error.message });
      } else if (error instanceof ConflictError) {
        request.response = jsonResponse(409, { error: 'Conflict', message: error.message, ...error.details });
      } else if (error?.name === ErrorNames.transient) {
        request.response = jsonResponse(503, { error: 'Unavailable', message: error.message }, { 'Retry-After': '2' });
      } else {
        log(`unhandled error in ${request.event.httpMethod} ${request.event.path}`, error);
        request.response = jsonResponse(500, { error: 'InternalError', message: 'internal error', requestId: request.context.awsRequestId });
      }
    },
  };
}
