import {
  CreateFunctionCommand,
  CreateOriginAccessControlCommand,
  DeleteFunctionCommand,
  DescribeFunctionCommand,
  ListOriginAccessControlsCommand,
  PublishFunctionCommand,
  UpdateFunctionCommand,
  type CloudFrontClient,
  type FunctionConfig,
} from '@aws-sdk/client-cloudfront';
import { PermanentError, TransientError, errorMessage } from '../../lambdas/domain/errors.js';
import { awsErrorName, isAwsError, toDomainError } from './aws-errors.js';

/** Managed CloudFront policies (ids are fixed by AWS; the same ones `aws-cdk-lib` names). */
export const MANAGED_POLICIES = {
  cachingOptimized: '658327ea-f89d-4fab-a63d-7e88639e58f6',
  cachingDisabled: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
  allViewerExceptHostHeader: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
} as const;

/**
 * CloudFront errors that mean "not now" rather than "never": another writer changed the resource
 * since we read its ETag, or a change (disable, delete of a distribution using a function) has not
 * propagated yet. The step's Retry will call again.
 */
const RETRY_LATER = ['PreconditionFailed', 'DistributionNotDisabled', 'ResourceNotDisabled', 'FunctionInUse', 'ResourceInUse'];

/** What a CloudFront call threw, as a domain error: the {@link RETRY_LATER} names are transient too. */
export function cloudFrontError(error: unknown, doing: string): Error {
  if (isAwsError(error, ...RETRY_LATER)) return new TransientError(`${doing}: ${awsErrorName(error)}: ${errorMessage(error)}`);
  return toDomainError(error, doing);
}

/** Runs one CloudFront call; failures come back as domain errors (see {@link cloudFrontError}). */
export async function cloudFrontCall<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw cloudFrontError(error, doing);
  }
}

/**
 * Creates the CloudFront function `name` (JavaScript runtime 2.0) or, when it exists, updates its
 * code, then publishes it to LIVE; returns the LIVE function's ARN, which cache behaviours name.
 */
export async function publishCloudFrontFunction(cloudFront: CloudFrontClient, name: string, comment: string, code: string): Promise<string> {
  const config: FunctionConfig = { Comment: comment, Runtime: 'cloudfront-js-2.0' };
  const bytes = new TextEncoder().encode(code);
  let etag: string | undefined;
  try {
    etag = (await cloudFront.send(new CreateFunctionCommand({ Name: name, FunctionConfig: config, FunctionCode: bytes }))).ETag;
  } catch (error) {
    if (!isAwsError(error, 'FunctionAlreadyExists')) throw cloudFrontError(error, `creating CloudFront function ${name}`);
    const current = await cloudFrontCall(`reading CloudFront function ${name}`, () =>
      cloudFront.send(new DescribeFunctionCommand({ Name: name, Stage: 'DEVELOPMENT' })),
    );
    etag = (
      await cloudFrontCall(`updating CloudFront function ${name}`, () =>
        cloudFront.send(new UpdateFunctionCommand({ Name: name, IfMatch: current.ETag, FunctionConfig: config, FunctionCode: bytes })),
      )
    ).ETag;
  }
  const published = await cloudFrontCall(`publishing CloudFront function ${name}`, () =>
    cloudFront.send(new PublishFunctionCommand({ Name: name, IfMatch: etag })),
  );
  const arn = published.FunctionSummary?.FunctionMetadata?.FunctionARN;
  if (!arn) throw new PermanentError(`publishing CloudFront function ${name}: the answer names no function ARN`);
  return arn;
}

/** Deletes the CloudFront function `name` if it exists; says whether it did. */
export async function deleteCloudFrontFunction(cloudFront: CloudFrontClient, name: string): Promise<boolean> {
  try {
    const current = await cloudFront.send(new DescribeFunctionCommand({ Name: name, Stage: 'DEVELOPMENT' }));
    await cloudFront.send(new DeleteFunctionCommand({ Name: name, IfMatch: current.ETag }));
    return true;
  } catch (error) {
    if (isAwsError(error, 'NoSuchFunctionExists')) return false;
    throw cloudFrontError(error, `deleting CloudFront function ${name}`);
  }
}

/** The id of the S3 Origin Access Control `name` (SigV4, always signing), created if missing. */
export async function ensureOriginAccessControl(cloudFront: CloudFrontClient, name: string): Promise<string> {
  const existing = await findOriginAccessControl(cloudFront, name);
  if (existing) return existing;
  try {
    const created = await cloudFront.send(
      new CreateOriginAccessControlCommand({
        OriginAccessControlConfig: {
          Name: name,
          Description: 'Hostplane: CloudFront reads tenant asset buckets',
          SigningProtocol: 'sigv4',
          SigningBehavior: 'always',
          OriginAccessControlOriginType: 's3',
        },
      }),
    );
    const id = created.OriginAccessControl?.Id;
    if (!id) throw new PermanentError(`creating origin access control ${name}: the answer names no id`);
    return id;
  } catch (error) {
    if (!isAwsError(error, 'OriginAccessControlAlreadyExists')) throw cloudFrontError(error, `creating origin access control ${name}`);
    // Created by a concurrent run since the listing: adopt it.
    const adopted = await findOriginAccessControl(cloudFront, name);
    if (!adopted) throw new TransientError(`creating origin access control ${name}: it exists but is not listed yet`);
    return adopted;
  }
}

async function findOriginAccessControl(cloudFront: CloudFrontClient, name: string): Promise<string | undefined> {
  let marker: string | undefined;
  for (;;) {
    const page = await cloudFrontCall('listing origin access controls', () =>
      cloudFront.send(new ListOriginAccessControlsCommand({ Marker: marker })),
    );
    const list = page.OriginAccessControlList;
    const found = list?.Items?.find((item) => item.Name === name);
    if (found?.Id) return found.Id;
    if (!list?.IsTruncated || !list.NextMarker) return undefined;
    marker = list.NextMarker;
  }
}
