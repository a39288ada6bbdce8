import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tenantResourceNames } from '../lambdas/domain/naming.js';
import { ApiClient, type ApiAnswer } from './api-client.js';
import type { RehearsalWorld } from './rehearsal-world.js';
import { checkAfterDeploy, checkNothingLeft, type Check } from './tenant-checks.js';

export interface ScenarioOptions {
  readonly tenants: number;
  readonly log: (line: string) => void;
}

/** How long one operation may take here before the rehearsal calls it stuck. */
const OPERATION_DEADLINE_MS = 240_000;
const EXAMPLES = join(process.cwd(), 'lambdas', 'app-definition', 'examples');

interface Operation {
  readonly operationId: string;
  readonly status: string;
  readonly error?: string | null;
  readonly currentState?: string | null;
  readonly states?: readonly { state: string; status: string; error?: string | null }[];
  readonly result?: { readonly backupId?: string; readonly rows?: number; readonly files?: readonly string[] } | null;
  readonly download?: { readonly url: string; readonly expiresAt: string };
}

/**
 * Each tenant through provision → deploy → redeploy → backup → restore → export → deprovision, through the
 * API's functions, the tenants side by side; what an operator would see is checked after each step.
 * Returns the failures (empty when everything held).
 */
export async function runScenario(world: RehearsalWorld, options: ScenarioOptions): Promise<string[]> {
  const api = new ApiClient(world.controlPlane.apiRoutes, world.lambdas);
  const failures: string[] = [];
  const check: Check = (ok, what) => {
    if (!ok) failures.push(what);
    options.log(`    ${ok ? '✓' : '✗'} ${what}`);
  };

  const listed = await api.request('GET', '/tenants');
  check(listed.statusCode === 200, `GET /tenants answers 200 on a fresh account (the registry exists): ${describe(listed)}`);

  const run = `r${Date.now().toString(36).slice(-5)}`;
  const tenantIds = Array.from({ length: options.tenants }, (_, index) => `${run}-t${index + 1}`);
  await Promise.all(tenantIds.map((tenantId) => lifecycle(world, api, tenantId, check, options.log)));
  return failures;
}

async function lifecycle(world: RehearsalWorld, api: ApiClient, tenantId: string, check: Check, log: (line: string) => void): Promise<void> {
  const names = tenantResourceNames({ environment: 'dev', cell: 'c1' }, tenantId as never);
  const step = async (label: string, answer: ApiAnswer, expected: number[]): Promise<Operation | undefined> => {
    log(`  ${tenantId}: ${label} → ${answer.statusCode}`);
    check(expected.includes(answer.statusCode), `${tenantId}: ${label} answers ${expected.join(' or ')}: ${describe(answer)}`);
    const operationId = (answer.body as { operationId?: string } | undefined)?.operationId;
    if (!operationId || !expected.includes(answer.statusCode)) return undefined;
    const ended = await waitForOperation(api, operationId);
    const states = (ended.states ?? []).map((state) => `${state.state}:${state.status}`).join(' ');
    check(ended.status === 'SUCCEEDED', `${tenantId}: ${label} operation ${ended.status}${ended.error ? ` (${ended.error})` : ''} [${states}]`);
    return ended;
  };

  const provisioned = await step('POST /tenants', await api.request('POST', '/tenants', { tenantId, displayName: `Rehearsal ${tenantId}` }), [202]);
  if (provisioned?.status !== 'SUCCEEDED') return;
  const tenant = await api.request('GET', `/tenants/${tenantId}`);
  check((tenant.body as { status?: string })?.status === 'ACTIVE', `${tenantId}: ACTIVE after provision (${describe(tenant)})`);

  // The starter app's entity goes: the operator says so (allowDestructive), as the API demands.
  const bookshop = JSON.parse(readFileSync(join(EXAMPLES, 'bookshop.json'), 'utf8')) as { entities: { name: string; fields: unknown[] }[] };
  const deployed = await step(
    'POST /tenants/{id}/deployments (bookshop)',
    await api.request('POST', `/tenants/${tenantId}/deployments`, { definition: bookshop, allowDestructive: true }),
    [202],
  );
  if (deployed?.status === 'SUCCEEDED') await checkAfterDeploy(world, names, check);
  const app = tenantApp(world, names.computeService);
  const first = await app('POST', '/api/book', { title: `First of ${tenantId}`, pages: 100 });
  check(first.status === 201, `${tenantId}: its app stores a book (${first.status} ${JSON.stringify(first.body).slice(0, 120)})`);

  const changed = { ...bookshop, entities: bookshop.entities.map((entity) => (entity.name === 'book' ? { ...entity, fields: [...entity.fields, { name: 'isbn', type: 'string' }] } : entity)) };
  const redeployed = await step('POST /tenants/{id}/deployments (a field added)', await api.request('POST', `/tenants/${tenantId}/deployments`, { definition: changed }), [202]);
  if (redeployed?.status === 'SUCCEEDED') await checkAfterDeploy(world, names, check);
  const afterRedeploy = await app('GET', '/api/book');
  check(titles(afterRedeploy.body).includes(`First of ${tenantId}`), `${tenantId}: the book is still there after the redeploy (${JSON.stringify(afterRedeploy.body).slice(0, 160)})`);

  // Backup, restore and export are operations of the backup state machine (the backup an ECS job).
  const backup = await step('POST /tenants/{id}/backups', await api.request('POST', `/tenants/${tenantId}/backups`), [202]);
  const backupId = backup?.status === 'SUCCEEDED' ? backup.result?.backupId : undefined;
  if (backup) check(backup.result?.rows === 1, `${tenantId}: the backup operation gives the backup, holding the one book (${JSON.stringify(backup.result)})`);
  if (backupId) {
    const later = await app('POST', '/api/book', { title: `Written after the backup of ${tenantId}` });
    check(later.status === 201, `${tenantId}: a second book is stored after the backup (${later.status})`);
    await step('POST /tenants/{id}/restore', await api.request('POST', `/tenants/${tenantId}/restore`, { backupId }), [202]);
    const afterRestore = await app('GET', '/api/book');
    check(
      JSON.stringify(titles(afterRestore.body)) === JSON.stringify([`First of ${tenantId}`]),
      `${tenantId}: after the restore its app serves exactly the backed-up book (${JSON.stringify(titles(afterRestore.body))})`,
    );
    const exported = await step('POST /tenants/{id}/backups/{backupId}/export', await api.request('POST', `/tenants/${tenantId}/backups/${backupId}/export`), [202]);
    if (exported?.status === 'SUCCEEDED') await checkExportLink(world, tenantId, exported, check);
  }

  const removed = await step('DELETE /tenants/{id}', await api.request('DELETE', `/tenants/${tenantId}`), [202]);
  if (removed?.status === 'SUCCEEDED') await checkNothingLeft(world, names, check);
}

/**
 * The export's link, as the Lambda presigned it: a GET on the stand-in S3 (over HTTPS, as S3 is),
 * good for 15 minutes, answering the .tar.gz with schema.json and the book CSV.
 */
async function checkExportLink(world: RehearsalWorld, tenantId: string, exported: Operation, check: Check): Promise<void> {
  const link = exported.download;
  check(link !== undefined, `${tenantId}: the export operation gives a download link (${JSON.stringify(exported).slice(0, 300)})`);
  if (!link) return;
  const url = new URL(link.url);
  check(url.protocol === 'https:' && url.searchParams.get('X-Amz-Expires') === '900', `${tenantId}: the link is an S3 presigned GET over HTTPS lasting 900 s (${url.origin}${url.pathname})`);
  const answer = await httpsGet(url, readFileSync(world.certificates.caFile));
  const listing = answer.status === 200 ? gunzipSync(answer.body).toString('latin1') : '';
  check(
    answer.status === 200 && listing.includes('/schema.json') && listing.includes('/book.csv') && listing.includes(`First of ${tenantId}`),
    `${tenantId}: the link serves the export archive (schema.json, book.csv, the book) from the stand-in S3 (${answer.status}, ${answer.body.length} bytes)`,
  );
}

function httpsGet(url: URL, ca: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve) => {
    const request = https.get(url, { ca }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    request.on('error', (error) => resolve({ status: 0, body: Buffer.from(String(error)) }));
  });
}

/** Requests to the tenant's app through its running task (what the cell's edge forwards to). */
function tenantApp(world: RehearsalWorld, serviceName: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const task = world.agent.running().find((candidate) => candidate.serviceName === serviceName);
    if (!task) return { status: 0, body: 'no task runs for the service' };
    try {
      const response = await fetch(`http://${task.endpoint}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    } catch (error) {
      return { status: 0, body: String(error) };
    }
  };
}

function titles(body: unknown): string[] {
  const items = (body as { items?: { title?: string }[] } | undefined)?.items ?? [];
  return items.map((item) => item.title ?? '').sort();
}

async function waitForOperation(api: ApiClient, operationId: string): Promise<Operation> {
  const deadline = Date.now() + OPERATION_DEADLINE_MS;
  let last: Operation | undefined;
  while (Date.now() < deadline) {
    const answer = await api.request('GET', `/operations/${operationId}`);
    last = answer.body as Operation;
    if (answer.statusCode === 200 && last.status !== 'RUNNING') return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { operationId, status: `still ${last?.status ?? 'unknown'} after ${OPERATION_DEADLINE_MS / 1000} s at ${last?.currentState ?? '?'}`, states: last?.states };
}

function describe(answer: ApiAnswer): string {
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  return `${answer.statusCode} ${(text ?? '').slice(0, 300)}`;
}
