import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { TENANT_ID_PLACEHOLDER, dedicatedViewerRequestSource } from '../../cloud/adapters/aws-edge-function-code.js';

const DIR = new URL('../../runtime/edge/cloudfront/', import.meta.url);
const VIEWER_REQUEST = readFileSync(new URL('viewer-request.js', DIR), 'utf8');
const VIEWER_RESPONSE = readFileSync(new URL('viewer-response.js', DIR), 'utf8');

interface HeaderValue {
  value: string;
}
type Headers = Record<string, HeaderValue | undefined>;
interface CloudFrontRequest {
  uri: string;
  headers: Headers;
}
type Handler = (event: object) => Record<string, unknown>;

/**
 * The `cloudfront` module of CloudFront Functions, faked: on a distribution tenant it answers its
 * parameters; on a standard distribution `distributionTenant` throws, as CloudFront's does.
 */
function cloudFrontModule(parameters: Record<string, string> | 'standard'): object {
  return {
    get distributionTenant() {
      if (parameters === 'standard') throw new TypeError('distributionTenant module is not available');
      return { id: 'dt_test', parameters: { get: (name: string) => parameters[name] } };
    },
  };
}

/**
 * Loads a function's source as an ES module in a fresh `vm` context, linking `import cf from
 * 'cloudfront'` to the fake; `handler` is exported for the test (CloudFront calls it by name).
 */
async function loadHandler(source: string, cf: object): Promise<Handler> {
  const context = vm.createContext({});
  const fn = new vm.SourceTextModule(`${source}\nexport { handler };\n`, { context });
  await fn.link(async (specifier: string) => {
    if (specifier !== 'cloudfront') throw new Error(`unexpected import ${specifier}`);
    const module = new vm.SyntheticModule(['default'], function (this: vm.SyntheticModule) {
      this.setExport('default', cf);
    }, { context });
    return module;
  });
  await fn.evaluate();
  return (fn.namespace as { handler: Handler }).handler;
}

function viewerRequestEvent(headers: Headers): { request: CloudFrontRequest } {
  return { request: { uri: '/api/items', headers } };
}

describe('viewer-request CloudFront function', () => {
  it('sets x-tenant-id from the distribution tenant parameter, overwriting the one the viewer sent', async () => {
    const handler = await loadHandler(VIEWER_REQUEST, cloudFrontModule({ tenantId: 'acme' }));

    const result = handler(viewerRequestEvent({ 'x-tenant-id': { value: 'victim' }, accept: { value: '*/*' } }));

    expect(result['headers']).toEqual({ 'x-tenant-id': { value: 'acme' }, accept: { value: '*/*' } });
  });

  it('drops a viewer-supplied x-origin-verify header (CloudFront adds the real one at the origin)', async () => {
    const handler = await loadHandler(VIEWER_REQUEST, cloudFrontModule({ tenantId: 'acme' }));

    const result = handler(viewerRequestEvent({ 'x-origin-verify': { value: 'guess' } }));

    expect(result['headers']).toEqual({ 'x-tenant-id': { value: 'acme' } });
  });

  it('on a dedicated distribution uses the substituted tenant id and does not throw without the tenant module', async () => {
    const handler = await loadHandler(dedicatedViewerRequestSource(VIEWER_REQUEST, 'globex'), cloudFrontModule('standard'));

    const result = handler(viewerRequestEvent({ 'x-tenant-id': { value: 'acme' } }));

    expect(result['headers']).toEqual({ 'x-tenant-id': { value: 'globex' } });
  });

  it('refuses the request (403) when no tenant can be named: unsubstituted source on a standard distribution', async () => {
    const handler = await loadHandler(VIEWER_REQUEST, cloudFrontModule('standard'));

    expect(handler(viewerRequestEvent({ 'x-tenant-id': { value: 'acme' } }))).toEqual({ statusCode: 403, statusDescription: 'Forbidden' });
  });

  it('refuses a tenant parameter that is not a tenant id', async () => {
    const handler = await loadHandler(VIEWER_REQUEST, cloudFrontModule({ tenantId: 'Bad Value' }));

    expect(handler(viewerRequestEvent({}))).toMatchObject({ statusCode: 403 });
  });

  it('holds the tenant placeholder exactly once, which the adapter substitutes with a validated id only', () => {
    expect(VIEWER_REQUEST.split(`'${TENANT_ID_PLACEHOLDER}'`)).toHaveLength(2);
    expect(VIEWER_REQUEST.startsWith("import cf from 'cloudfront';")).toBe(true);
    expect(() => dedicatedViewerRequestSource(VIEWER_REQUEST, "x'; evil(); '")).toThrow(/tenantId/);
  });
});

describe('viewer-response CloudFront function', () => {
  it('adds the security headers, replacing any the origin sent, and keeps the others', async () => {
    const handler = await loadHandler(VIEWER_RESPONSE, cloudFrontModule('standard'));

    const result = handler({
      response: { statusCode: 200, headers: { 'content-type': { value: 'text/html' }, 'x-frame-options': { value: 'ALLOWALL' } } },
    });

    const headers = result['headers'] as Headers;
    expect(headers['content-type']).toEqual({ value: 'text/html' });
    expect(headers['strict-transport-security']?.value).toMatch(/^max-age=\d{8,}; includeSubDomains$/);
    expect(headers['x-content-type-options']).toEqual({ value: 'nosniff' });
    expect(headers['x-frame-options']).toEqual({ value: 'DENY' });
    expect(headers['referrer-policy']).toEqual({ value: 'strict-origin-when-cross-origin' });
  });

  it('sends a CSP that allows what the generated front end loads (own script, stylesheet and api/) and nothing inline or foreign', async () => {
    const handler = await loadHandler(VIEWER_RESPONSE, cloudFrontModule('standard'));

    const headers = handler({ response: { statusCode: 200, headers: {} } })['headers'] as Headers;
    const policy = new Map(
      (headers['content-security-policy']?.value ?? '').split(';').map((part) => {
        const [name = '', ...values] = part.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );

    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('style-src')).toEqual(["'self'"]);
    expect(policy.get('connect-src')).toEqual(["'self'"]);
    expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
    expect(policy.get('object-src')).toEqual(["'none'"]);
    expect(headers['content-security-policy']?.value).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });
});
