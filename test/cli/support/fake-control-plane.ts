/**
 * A small stand-in for the control-plane API's deploy routes, on loopback, for the CLI tests: it
 * answers like the contract (202 with the deployment, 400 with `problems` or `refused`, 404, 409
 * while an operation runs) and moves a deploy one state further on each poll of its operation.
 *
 * What a deploy does is chosen by its definition's name: `Unhealthy` fails at AwaitHealthy and
 * is rolled back; `Slow` holds at AwaitHealthy until {@link FakeControlPlane.releaseHeld}. A field
 * type outside the known ones is a 400 with every problem; a field marked `"drop": true` is a
 * destructive change, refused without `allowDestructive`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freeLoopbackPort } from '../../../local/process-helpers.js';

export const DEPLOY_STATES = ['LoadDefinition', 'GenerateCode', 'Compile', 'PlanMigrations', 'Migrate', 'Publish', 'AwaitHealthy', 'MarkDeployed'] as const;
const FIELD_TYPES = new Set(['string', 'text', 'integer', 'number', 'boolean', 'timestamp', 'enum', 'reference']);

interface Step {
  state: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  detail: string | null;
  error: string | null;
  startedAt: string;
  endedAt: string | null;
}

interface Deployment {
  deploymentId: string;
  operationId: string;
  tenantId: string;
  kind: 'deploy' | 'rollback';
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  app: string;
  releaseId: string | null;
  previousReleaseId: string | null;
  rollbackOf: string | null;
  rolledBack: boolean;
  migrations: string[];
  error: string | null;
  requestedBy: string;
  startedAt: string;
  endedAt: string | null;
  /** Not in the API's answer. */
  plan: { states: readonly string[]; targetRelease: string; outcome: 'ok' | 'unhealthy' | 'slow' };
  steps: Step[];
}

export interface PostedDeployment {
  readonly definition: { name?: string } & Record<string, unknown>;
  readonly allowDestructive?: boolean;
  readonly idempotencyKey: string | undefined;
}

export interface FakeControlPlane {
  readonly url: string;
  /** Every POST /tenants/{id}/deployments body, in order (also those answered 400). */
  readonly posted: PostedDeployment[];
  deployments(tenantId: string): readonly Deployment[];
  /** Whether a `Slow` deploy is holding at AwaitHealthy. */
  holding(): boolean;
  /** Lets a held `Slow` deploy finish. */
  releaseHeld(): void;
  close(): Promise<void>;
}

const now = () => new Date().toISOString();
const releaseOf = (definition: unknown) => createHash('sha256').update(JSON.stringify(definition)).digest('hex');

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : {};
}

/** Every violation, as the real validation words them. */
function problemsOf(definition: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof definition.name !== 'string' || definition.name === '') problems.push('name: is required');
  const entities = Array.isArray(definition.entities) ? (definition.entities as Record<string, unknown>[]) : [];
  entities.forEach((entity, e) => {
    const fields = Array.isArray(entity.fields) ? (entity.fields as Record<string, unknown>[]) : [];
    fields.forEach((field, f) => {
      if (!FIELD_TYPES.has(String(field.type))) problems.push(`entities[${e}].fields[${f}].type: unknown type ${JSON.stringify(field.type)}`);
    });
  });
  return problems;
}

function destructiveChanges(definition: Record<string, unknown>): string[] {
  const entities = Array.isArray(definition.entities) ? (definition.entities as Record<string, unknown>[]) : [];
  return entities.flatMap((entity) =>
    (Array.isArray(entity.fields) ? (entity.fields as Record<string, unknown>[]) : [])
      .filter((field) => field.drop === true)
      .map((field) => `${String(entity.name)}.${String(field.name)}: dropping the column loses its data; pass allowDestructive: true`),
  );
}

function view(deployment: Deployment) {
  const { deploymentId, operationId, tenantId, kind, status, app, releaseId, previousReleaseId, rollbackOf, rolledBack, migrations, error, requestedBy, startedAt, endedAt } =
    deployment;
  return {
    deploymentId,
    operationId,
    tenantId,
    kind,
    status,
    app,
    releaseId,
    previousReleaseId,
    rollbackOf,
    rolledBack,
    migrations,
    error,
    requestedBy,
    startedAt,
    endedAt,
    links: {
      self: `/tenants/${deployment.tenantId}/deployments/${deployment.deploymentId}`,
      operation: `/operations/${deployment.operationId}`,
      tenant: `/tenants/${deployment.tenantId}`,
    },
  };
}

export async function startFakeControlPlane(tenants: readonly string[] = ['acme']): Promise<FakeControlPlane> {
  const byTenant = new Map<string, Deployment[]>(tenants.map((tenant) => [tenant, []]));
  const current = new Map<string, string | null>(tenants.map((tenant) => [tenant, null]));
  const posted: PostedDeployment[] = [];
  const byOperation = new Map<string, Deployment>();
  const replays = new Map<string, Deployment>();
  let held = false;
  let holdReleased = false;

  function running(tenantId: string): Deployment | undefined {
    return byTenant.get(tenantId)?.find((d) => d.status === 'RUNNING');
  }

  function begin(tenantId: string, fields: Pick<Deployment, 'kind' | 'app' | 'rollbackOf'>, plan: Deployment['plan']): Deployment {
    const id = randomUUID();
    const deployment: Deployment = {
      deploymentId: `dep-${id}`,
      operationId: `op-${id}`,
      tenantId,
      status: 'RUNNING',
      releaseId: null,
      previousReleaseId: current.get(tenantId) ?? null,
      rolledBack: false,
      migrations: [],
      error: null,
      requestedBy: 'cli-test',
      startedAt: now(),
      endedAt: null,
      ...fields,
      plan,
      steps: [],
    };
    byTenant.get(tenantId)!.unshift(deployment);
    byOperation.set(deployment.operationId, deployment);
    return deployment;
  }

  function finish(deployment: Deployment, status: 'SUCCEEDED' | 'FAILED'): void {
    deployment.status = status;
    deployment.endedAt = now();
    if (status === 'SUCCEEDED') {
      deployment.releaseId = deployment.plan.targetRelease;
      current.set(deployment.tenantId, deployment.releaseId);
      if (deployment.kind === 'deploy') deployment.migrations = ['create table book', 'add column book.pages'];
    }
  }

  /** One step further per poll: the running state ends, the next one starts. */
  function advance(deployment: Deployment): void {
    if (deployment.status !== 'RUNNING') return;
    const last = deployment.steps.at(-1);
    if (last?.status === 'RUNNING') {
      if (last.state === 'AwaitHealthy' && deployment.plan.outcome === 'slow' && !holdReleased) {
        held = true;
        return;
      }
      if (last.state === 'AwaitHealthy' && deployment.plan.outcome === 'slow') {
        held = false;
        holdReleased = false;
      }
      last.endedAt = now();
      if (last.state === 'AwaitHealthy' && deployment.plan.outcome === 'unhealthy') {
        last.status = 'FAILED';
        last.error = 'release did not answer its health check within 10 s';
        deployment.plan = { ...deployment.plan, states: [...DEPLOY_STATES.slice(0, 7), 'RollBack', 'MarkDeploymentFailed'] };
      } else {
        last.status = 'SUCCEEDED';
      }
    }
    const next = deployment.plan.states[deployment.steps.length];
    if (next === undefined) {
      if (deployment.plan.outcome === 'unhealthy') {
        deployment.rolledBack = true;
        deployment.error = `release ${deployment.plan.targetRelease.slice(0, 12)} did not answer its health check within 10 s`;
        finish(deployment, 'FAILED');
      } else {
        finish(deployment, 'SUCCEEDED');
      }
      return;
    }
    deployment.steps.push({ state: next, status: 'RUNNING', detail: null, error: null, startedAt: now(), endedAt: null });
  }

  function operation(deployment: Deployment) {
    advance(deployment);
    return {
      operationId: deployment.operationId,
      tenantId: deployment.tenantId,
      kind: deployment.kind,
      status: deployment.status,
      currentState: deployment.steps.at(-1)?.state ?? null,
      error: deployment.error,
      requestedBy: deployment.requestedBy,
      startedAt: deployment.startedAt,
      endedAt: deployment.endedAt,
      links: { self: `/operations/${deployment.operationId}`, tenant: `/tenants/${deployment.tenantId}` },
      states: deployment.steps.map((step) => ({ ...step })),
    };
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';

    if (parts[0] === 'operations' && parts.length === 2 && method === 'GET') {
      const deployment = byOperation.get(parts[1]!);
      return deployment ? send(res, 200, operation(deployment)) : send(res, 404, { error: 'NotFound', message: `no operation ${parts[1]}` });
    }
    if (parts[0] !== 'tenants' || parts.length < 2) return send(res, 404, { error: 'NotFound', message: `no route ${method} ${url.pathname}` });
    const tenantId = parts[1]!;
    const list = byTenant.get(tenantId);
    if (!list) return send(res, 404, { error: 'NotFound', message: `no tenant ${tenantId}` });

    if (parts.length === 2 && method === 'GET') {
      return send(res, 200, { tenantId, status: 'ACTIVE', url: `http://${tenantId}.localhost:7780/`, version: current.get(tenantId) });
    }
    if (parts[2] !== 'deployments') return send(res, 404, { error: 'NotFound', message: `no route ${method} ${url.pathname}` });

    if (parts.length === 3 && method === 'GET') return send(res, 200, { items: list.map(view) });
    if (parts.length === 3 && method === 'POST') {
      const body = (await readJson(req)) as { definition?: Record<string, unknown>; allowDestructive?: boolean };
      const idempotencyKey = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
      const definition = body.definition ?? {};
      posted.push({ definition, allowDestructive: body.allowDestructive, idempotencyKey });
      if (idempotencyKey && replays.has(idempotencyKey)) return send(res, 200, view(replays.get(idempotencyKey)!));
      const problems = problemsOf(definition);
      if (problems.length > 0) {
        return send(res, 400, { error: 'ValidationError', field: problems[0]!.split(':')[0], message: problems.join('; '), problems });
      }
      const refused = body.allowDestructive ? [] : destructiveChanges(definition);
      if (refused.length > 0) {
        return send(res, 400, { error: 'ValidationError', field: refused[0]!.split(':')[0], message: refused.join('; '), refused });
      }
      const busy = running(tenantId);
      if (busy) return send(res, 409, { error: 'Conflict', message: `tenant ${tenantId} has an operation running`, operationId: busy.operationId });
      const name = String(definition.name);
      const outcome = name === 'Unhealthy' ? 'unhealthy' : name === 'Slow' ? 'slow' : 'ok';
      const deployment = begin(tenantId, { kind: 'deploy', app: name, rollbackOf: null }, { states: DEPLOY_STATES, targetRelease: releaseOf(definition), outcome });
      if (idempotencyKey) replays.set(idempotencyKey, deployment);
      return send(res, 202, view(deployment));
    }
    const target = list.find((d) => d.deploymentId === parts[3]);
    if (!target) return send(res, 404, { error: 'NotFound', message: `no deployment ${parts[3]} of ${tenantId}` });
    if (parts.length === 4 && method === 'GET') return send(res, 200, view(target));
    if (parts.length === 5 && parts[4] === 'rollback' && method === 'POST') {
      const busy = running(tenantId);
      if (busy) return send(res, 409, { error: 'Conflict', message: `tenant ${tenantId} has an operation running`, operationId: busy.operationId });
      if (!target.previousReleaseId) return send(res, 400, { error: 'ValidationError', field: 'deploymentId', message: `deploymentId: ${target.deploymentId} replaced no release` });
      const rollback = begin(
        tenantId,
        { kind: 'rollback', app: target.app, rollbackOf: target.deploymentId },
        { states: ['LoadDefinition', 'Publish', 'AwaitHealthy', 'MarkDeployed'], targetRelease: target.previousReleaseId, outcome: 'ok' },
      );
      return send(res, 202, view(rollback));
    }
    return send(res, 404, { error: 'NotFound', message: `no route ${method} ${url.pathname}` });
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => send(res, 500, { error: 'InternalError', message: String(error) }));
  });
  const port = await freeLoopbackPort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  return {
    url: `http://127.0.0.1:${port}`,
    posted,
    deployments: (tenantId) => byTenant.get(tenantId) ?? [],
    holding: () => held,
    releaseHeld: () => {
      holdReleased = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
