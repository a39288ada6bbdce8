import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { ports } from '../ports/index.js';
import { ensureRegistry } from '../registry/registry-bootstrap.js';

/** What the custom resource framework reports to CloudFormation (`Data` is readable with `GetAtt`). */
export interface BootstrapRegistryResponse {
  readonly PhysicalResourceId: string;
  readonly Data: { readonly Database: string; readonly Applied: string; readonly MigrationsDigest: string };
}

/** Left of the function's time when retries stop, so the answer reaches CloudFormation before the Lambda times out. */
const ANSWER_MARGIN_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/**
 * The registry's bootstrap, as a CloudFormation custom resource (ADR 0008): on Create and Update,
 * the environment's registry database is created if missing and migrated, through the same ports
 * and domain code as every other function; transient errors (Aurora resuming) are retried for as
 * long as the invocation allows. Delete does nothing: the registry is data, and it is retained.
 */
export async function bootstrapRegistry(
  event: CloudFormationCustomResourceEvent,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<BootstrapRegistryResponse> {
  if (event.RequestType === 'Delete') {
    return { PhysicalResourceId: event.PhysicalResourceId, Data: { Database: event.PhysicalResourceId, Applied: '', MigrationsDigest: '' } };
  }
  const { sql, config } = ports();
  const deadline = Date.now() + context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
  const result = await ensureRegistry(sql, config.environment, { deadline, sleep, now: Date.now });
  console.log(JSON.stringify({ message: 'registry bootstrapped', request: event.RequestType, ...result }));
  return {
    PhysicalResourceId: result.database,
    Data: { Database: result.database, Applied: result.applied.join(','), MigrationsDigest: result.migrationsDigest },
  };
}

export const handler = middy<CloudFormationCustomResourceEvent, BootstrapRegistryResponse>().handler(bootstrapRegistry);
