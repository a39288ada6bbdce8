import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { child, childText, element, parseXml, textElement, type XmlElement } from './simple-xml.js';
import { readBody } from './read-body.js';

/**
 * S3, CloudFront and Route 53 for the rehearsal, over HTTPS as the services are: what moto serves
 * is forwarded to it; what moto lacks or gets wrong is served here —
 * - CloudFront SaaS Manager's distribution tenants (create, get, update, delete, list, their tags)
 *   and the account's default connection group, from memory. A tenant is `Deployed` as soon as it
 *   is written (CloudFront takes minutes; nothing here waits);
 * - S3 bucket policies: moto applies a policy's Deny statements without their conditions, so the
 *   tenant bucket's TLS-only Deny (`aws:SecureTransport: false`) would refuse every write. Policies
 *   are kept here instead, readable as usual, and their `aws:SecureTransport` denials are enforced
 *   against the real connection (always TLS here, so they never apply);
 * - Route 53 calls naming the stack's configured hosted zone id go to the zone made in moto for it
 *   (moto picks its own ids).
 */
export interface AwsGapsServerOptions {
  readonly motoEndpoint: string;
  readonly accountId: string;
  /** The server's certificate and key (its CA is what clients trust). */
  readonly certificates: { readonly certFile: string; readonly keyFile: string };
  /** The hosted zone id the stack was configured with → the id moto gave the zone made for it. */
  readonly hostedZoneIds?: Readonly<Record<string, string>>;
}

interface DistributionTenant {
  readonly id: string;
  readonly name: string;
  readonly arn: string;
  distributionId: string;
  domains: string[];
  parameters: { name: string; value: string }[];
  connectionGroupId: string;
  enabled: boolean;
  readonly createdTime: string;
  lastModifiedTime: string;
  etag: string;
  tags: { key: string; value: string }[];
}

export interface AwsGapsServer {
  /** `https://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** The bucket policies kept here, by bucket. */
  bucketPolicies(): ReadonlyMap<string, string>;
  /** The distribution tenants that exist now. */
  tenants(): { name: string; domains: readonly string[]; distributionId: string }[];
  stop(): Promise<void>;
}

const API = '/2020-05-31';
const CONNECTION_GROUP_ID = 'cg_rehearsaldefault';
const ROUTING_ENDPOINT = 'd0rehearsal.cloudfront.net';

class CloudFrontFault extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startAwsGapsServer(options: AwsGapsServerOptions): Promise<AwsGapsServer> {
  const byId = new Map<string, DistributionTenant>();
  let version = 1;
  const find = (identifier: string) => byId.get(identifier) ?? [...byId.values()].find((tenant) => tenant.name === identifier || tenant.arn === identifier);
  const found = (identifier: string) => {
    const tenant = find(identifier);
    if (!tenant) throw new CloudFrontFault('EntityNotFound', 404, `The distribution tenant ${identifier} does not exist.`);
    return tenant;
  };
  const checkIfMatch = (tenant: DistributionTenant, ifMatch: string | undefined) => {
    if (!ifMatch) throw new CloudFrontFault('InvalidIfMatchVersion', 400, 'The If-Match version is missing.');
    if (ifMatch !== tenant.etag) throw new CloudFrontFault('PreconditionFailed', 412, 'The If-Match version does not match the current version.');
  };
  const write = (tenant: DistributionTenant, body: XmlElement) => {
    const domains = child(body, 'Domains')?.children.map((item) => childText(item, 'Domain') ?? '') ?? tenant.domains;
    tenant.domains = domains;
    tenant.distributionId = childText(body, 'DistributionId') ?? tenant.distributionId;
    tenant.parameters = child(body, 'Parameters')?.children.map((item) => ({ name: childText(item, 'Name') ?? '', value: childText(item, 'Value') ?? '' })) ?? tenant.parameters;
    tenant.connectionGroupId = childText(body, 'ConnectionGroupId') ?? tenant.connectionGroupId;
    const enabled = childText(body, 'Enabled');
    if (enabled !== undefined) tenant.enabled = enabled === 'true';
    tenant.lastModifiedTime = new Date().toISOString();
    tenant.etag = `E${version++}`;
  };

  const handlers: { method: string; path: RegExp; handle: (match: RegExpExecArray, request: IncomingMessage, body: string, url: URL) => Answer }[] = [
    {
      method: 'POST',
      path: new RegExp(`^${API}/distribution-tenant$`),
      handle: (_match, _request, body) => {
        const input = parseXml(body);
        const name = childText(input, 'Name') ?? '';
        if (find(name)) throw new CloudFrontFault('EntityAlreadyExists', 409, `A distribution tenant named ${name} already exists.`);
        const id = `dt_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`;
        const now = new Date().toISOString();
        const tenant: DistributionTenant = {
          id,
          name,
          arn: `arn:aws:cloudfront::${options.accountId}:distribution-tenant/${id}`,
          distributionId: '',
          domains: [],
          parameters: [],
          connectionGroupId: CONNECTION_GROUP_ID,
          enabled: true,
          createdTime: now,
          lastModifiedTime: now,
          etag: '',
          tags: child(child(input, 'Tags'), 'Items')?.children.map((tag) => ({ key: childText(tag, 'Key') ?? '', value: childText(tag, 'Value') ?? '' })) ?? [],
        };
        write(tenant, input);
        byId.set(id, tenant);
        return { status: 201, etag: tenant.etag, xml: tenantXml(tenant) };
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^${API}/distribution-tenant/([^/]+)$`),
      handle: (match) => {
        const tenant = found(decodeURIComponent(match[1]!));
        return { status: 200, etag: tenant.etag, xml: tenantXml(tenant) };
      },
    },
    {
      method: 'PUT',
      path: new RegExp(`^${API}/distribution-tenant/([^/]+)$`),
      handle: (match, request, body) => {
        const tenant = found(decodeURIComponent(match[1]!));
        checkIfMatch(tenant, request.headers['if-match'] as string | undefined);
        write(tenant, parseXml(body));
        return { status: 200, etag: tenant.etag, xml: tenantXml(tenant) };
      },
    },
    {
      method: 'DELETE',
      path: new RegExp(`^${API}/distribution-tenant/([^/]+)$`),
      handle: (match, request) => {
        const tenant = found(decodeURIComponent(match[1]!));
        checkIfMatch(tenant, request.headers['if-match'] as string | undefined);
        if (tenant.enabled) throw new CloudFrontFault('ResourceNotDisabled', 409, 'The distribution tenant must be disabled before it is deleted.');
        byId.delete(tenant.id);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: new RegExp(`^${API}/distribution-tenants$`),
      handle: (_match, _request, body) => {
        const filter = child(parseXml(body), 'AssociationFilter');
        const distributionId = childText(filter, 'DistributionId');
        const listed = [...byId.values()].filter((tenant) => !distributionId || tenant.distributionId === distributionId);
        return { status: 200, xml: element('ListDistributionTenantsResult', element('DistributionTenantList', listed.map((tenant) => element('DistributionTenantSummary', tenantFields(tenant, true))).join(''))) };
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^${API}/connection-group/([^/]+)$`),
      handle: (match) => {
        const id = decodeURIComponent(match[1]!);
        if (id !== CONNECTION_GROUP_ID) throw new CloudFrontFault('EntityNotFound', 404, `The connection group ${id} does not exist.`);
        const now = new Date(0).toISOString();
        return {
          status: 200,
          etag: 'E1',
          xml: element(
            'ConnectionGroup',
            textElement('Id', id) +
              textElement('Name', 'default') +
              textElement('Arn', `arn:aws:cloudfront::${options.accountId}:connection-group/${id}`) +
              textElement('CreatedTime', now) +
              textElement('LastModifiedTime', now) +
              textElement('Ipv6Enabled', true) +
              textElement('RoutingEndpoint', ROUTING_ENDPOINT) +
              textElement('Status', 'Deployed') +
              textElement('Enabled', true) +
              textElement('IsDefault', true),
          ),
        };
      },
    },
  ];

  const tagHandler = (request: IncomingMessage, body: string, url: URL): Answer | undefined => {
    if (url.pathname !== `${API}/tagging`) return undefined;
    const tenant = find(url.searchParams.get('Resource') ?? '');
    if (!tenant) return undefined; // a distribution's: moto's
    const operation = url.searchParams.get('Operation');
    if (request.method === 'GET') return { status: 200, xml: tagsXml(tenant.tags) };
    if (operation === 'Tag') {
      for (const tag of child(parseXml(body), 'Items')?.children ?? []) {
        const key = childText(tag, 'Key') ?? '';
        tenant.tags = [...tenant.tags.filter((existing) => existing.key !== key), { key, value: childText(tag, 'Value') ?? '' }];
      }
      return { status: 204 };
    }
    if (operation === 'Untag') {
      const keys = new Set(child(parseXml(body), 'Items')?.children.map((key) => key.text.trim()) ?? []);
      tenant.tags = tenant.tags.filter((tag) => !keys.has(tag.key));
      return { status: 204 };
    }
    return undefined;
  };

  const policies = new Map<string, string>();
  const bucketPolicyHandler = (request: IncomingMessage, body: string, url: URL): Answer | undefined => {
    if (url.pathname.startsWith('/20')) return undefined; // CloudFront, Route 53
    const [bucket, ...rest] = url.pathname.slice(1).split('/');
    const key = rest.join('/');
    if (!bucket) return undefined;
    if (url.searchParams.has('policy') && key === '') {
      if (request.method === 'PUT') {
        policies.set(bucket, body);
        return { status: 204 };
      }
      if (request.method === 'DELETE') {
        policies.delete(bucket);
        return { status: 204 };
      }
      if (request.method === 'GET') {
        const policy = policies.get(bucket);
        if (!policy) throw new S3Fault('NoSuchBucketPolicy', 404, 'The bucket policy does not exist');
        return { status: 200, raw: policy, contentType: 'application/json' };
      }
    }
    if (request.method === 'DELETE' && key === '' && url.search === '') policies.delete(bucket);
    const secure = (request.socket as { encrypted?: boolean }).encrypted === true;
    if (!secure && deniesInsecure(policies.get(bucket))) throw new S3Fault('AccessDenied', 403, 'Access Denied');
    return undefined;
  };

  const server: Server = createServer({ cert: readFileSync(options.certificates.certFile), key: readFileSync(options.certificates.keyFile) }, (request, response) => {
    void readBody(request).then((bytes) => {
      const body = bytes.toString('utf8');
      const url = new URL(request.url ?? '/', 'http://localhost');
      try {
        const policyAnswer = bucketPolicyHandler(request, body, url);
        if (policyAnswer) return answer(response, policyAnswer);
        const tagged = tagHandler(request, body, url);
        if (tagged) return answer(response, tagged);
        for (const handler of handlers) {
          const match = handler.method === request.method ? handler.path.exec(url.pathname) : null;
          if (match) return answer(response, handler.handle(match, request, body, url));
        }
      } catch (error) {
        if (error instanceof S3Fault) {
          response.writeHead(error.status, { 'content-type': 'application/xml' });
          response.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${error.code}</Code><Message>${error.message}</Message></Error>`);
          return;
        }
        const fault = error instanceof CloudFrontFault ? error : new CloudFrontFault('InternalError', 500, String(error));
        response.writeHead(fault.status, { 'content-type': 'text/xml' });
        response.end(`<ErrorResponse><Error><Type>Sender</Type><Code>${fault.code}</Code><Message>${fault.message}</Message></Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`);
        return;
      }
      forward(options, request, bytes, url, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    bucketPolicies: () => policies,
    tenants: () => [...byId.values()].map((tenant) => ({ name: tenant.name, domains: tenant.domains, distributionId: tenant.distributionId })),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Answer {
  readonly status: number;
  readonly xml?: string;
  readonly raw?: string;
  readonly contentType?: string;
  readonly etag?: string;
}

function answer(response: ServerResponse, { status, xml, raw, contentType, etag }: Answer): void {
  response.writeHead(status, { 'content-type': contentType ?? 'text/xml', ...(etag ? { etag } : {}) });
  response.end(raw ?? (xml ? `<?xml version="1.0" encoding="UTF-8"?>${xml}` : undefined));
}

class S3Fault extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Whether a bucket policy denies requests that do not use TLS (a Deny with `Bool: { aws:SecureTransport: false }`). */
function deniesInsecure(policy: string | undefined): boolean {
  if (!policy) return false;
  const statements = (JSON.parse(policy) as { Statement?: { Effect?: string; Condition?: { Bool?: Record<string, string> } }[] }).Statement ?? [];
  return statements.some((statement) => statement.Effect === 'Deny' && String(statement.Condition?.Bool?.['aws:SecureTransport']) === 'false');
}

function tenantFields(tenant: DistributionTenant, summary: boolean): string {
  return (
    textElement('Id', tenant.id) +
    textElement('DistributionId', tenant.distributionId) +
    textElement('Name', tenant.name) +
    textElement('Arn', tenant.arn) +
    element('Domains', tenant.domains.map((domain) => element('member', textElement('Domain', domain) + textElement('Status', 'active'))).join('')) +
    (summary ? '' : tagsXml(tenant.tags, 'Tags') + element('Parameters', tenant.parameters.map((parameter) => element('member', textElement('Name', parameter.name) + textElement('Value', parameter.value))).join(''))) +
    textElement('ConnectionGroupId', tenant.connectionGroupId) +
    textElement('CreatedTime', tenant.createdTime) +
    textElement('LastModifiedTime', tenant.lastModifiedTime) +
    (summary ? textElement('ETag', tenant.etag) : '') +
    textElement('Enabled', tenant.enabled) +
    textElement('Status', 'Deployed')
  );
}

function tenantXml(tenant: DistributionTenant): string {
  return element('DistributionTenant', tenantFields(tenant, false));
}

function tagsXml(tags: readonly { key: string; value: string }[], name = 'Tags'): string {
  return element(name, element('Items', tags.map((tag) => element('Tag', textElement('Key', tag.key) + textElement('Value', tag.value))).join('')));
}

/** Everything else goes to moto as it came; Route 53 paths naming a configured zone id name moto's instead. */
function forward(options: AwsGapsServerOptions, request: IncomingMessage, body: Buffer, url: URL, response: ServerResponse): void {
  let path = `${url.pathname}${url.search}`;
  for (const [configured, actual] of Object.entries(options.hostedZoneIds ?? {})) path = path.replaceAll(`/hostedzone/${configured}`, `/hostedzone/${actual}`);
  const target = new URL(options.motoEndpoint);
  const headers: Record<string, string | string[] | undefined> = { ...request.headers, host: target.host, 'content-length': String(body.length) };
  delete headers['transfer-encoding'];
  const outgoing = httpRequest({ host: target.hostname, port: target.port, method: request.method, path, headers }, (incoming) => {
    response.writeHead(incoming.statusCode ?? 502, incoming.headers);
    incoming.pipe(response);
  });
  outgoing.on('error', (error) => {
    response.writeHead(502, { 'content-type': 'text/plain' });
    response.end(String(error));
  });
  outgoing.end(body);
}
