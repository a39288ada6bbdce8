import { readFile } from 'node:fs/promises';
import { ValidationError } from '../../lambdas/domain/errors.js';

/** The placeholder in `viewer-request.js` a dedicated distribution's copy replaces with its tenant id. */
export const TENANT_ID_PLACEHOLDER = '__HOSTPLANE_TENANT_ID__';

/** The source of the two CloudFront functions (JavaScript runtime 2.0). */
export interface CloudFrontFunctionSources {
  readonly viewerRequest: string;
  readonly viewerResponse: string;
}

/** Where the functions' source lives in the repository (a bundled Lambda needs the files shipped beside it). */
export const CLOUDFRONT_FUNCTIONS_DIR = new URL('../../runtime/edge/cloudfront/', import.meta.url);

/** Reads `viewer-request.js` and `viewer-response.js` from `dir`: one source for the CDK construct and the adapter. */
export async function readCloudFrontFunctionSources(dir: URL = CLOUDFRONT_FUNCTIONS_DIR): Promise<CloudFrontFunctionSources> {
  const [viewerRequest, viewerResponse] = await Promise.all([
    readFile(new URL('viewer-request.js', dir), 'utf8'),
    readFile(new URL('viewer-response.js', dir), 'utf8'),
  ]);
  return { viewerRequest, viewerResponse };
}

const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A dedicated distribution's viewer-request function: the shared source with the tenant id in
 * place of the placeholder. Only a valid tenant id is put into code.
 */
export function dedicatedViewerRequestSource(source: string, tenantId: string): string {
  if (!TENANT_ID.test(tenantId)) throw new ValidationError('tenantId', `must be a DNS label, got ${JSON.stringify(tenantId)}`);
  const quoted = `'${TENANT_ID_PLACEHOLDER}'`;
  if (source.split(quoted).length !== 2) throw new Error(`viewer-request source must hold ${quoted} exactly once`);
  return source.replace(quoted, `'${tenantId}'`);
}
