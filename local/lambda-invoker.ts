import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** A Lambda handler as middy exports it. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** The error a Lambda invocation reports: `name` is Lambda's errorType, `message` its JSON Cause. */
export class LambdaInvocationFailure extends Error {
  constructor(errorType: string, errorMessage: string, trace: string[]) {
    super(JSON.stringify({ errorType, errorMessage, trace }));
    this.name = errorType;
  }
}

function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Invokes a handler as Lambda would: the payload crosses as JSON both ways, and a thrown error
 * comes back in Lambda's shape, so the ASL Retry and Catch blocks see what they would in AWS
 * (`Error` = the error's name, `Cause` = JSON with errorType and errorMessage).
 */
export async function invokeLikeLambda(
  handler: LambdaHandler,
  functionName: string,
  payload: unknown,
  timeoutMs = 900_000,
): Promise<unknown> {
  const event = JSON.parse(JSON.stringify(payload ?? null)) as unknown;
  try {
    const result = await handler(event, lambdaContext(functionName, timeoutMs));
    return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
  } catch (error) {
    throw asLambdaFailure(error);
  }
}

export function asLambdaFailure(error: unknown): LambdaInvocationFailure {
  if (error instanceof LambdaInvocationFailure) return error;
  const e = error instanceof Error ? error : new Error(String(error));
  return new LambdaInvocationFailure(e.name || 'Error', e.message, (e.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()));
}
