import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { APIGatewayProxyEvent, CloudFormationCustomResourceEvent } from 'aws-lambda';
import { cloudPorts } from '../../cloud/cloud-ports.js';
import { CLOUD_VARIABLES } from '../../cloud/cloud-environment.js';
import { PermanentError, TransientError } from '../../lambdas/domain/errors.js';
import { bootstrapRegistry } from '../../lambdas/handlers/bootstrap-registry.js';
import { listTenants } from '../../lambdas/handlers/api/list-tenants.js';
import { configurePorts, ports, resetPorts } from '../../lambdas/ports/index.js';
import { REGISTRY_MIGRATIONS } from '../../lambdas/registry/migrations.js';
import { migrationsDigest, retryTransient } from '../../lambdas/registry/registry-bootstrap.js';
import { ensureAuroraLikeAdmin, startDataApiServer, type DataApiServer } from '../../rehearsal/emulators/data-api-server.js';
import { freeLoopbackPort } from '../../rehearsal/emulators/free-port.js';
import { dropTestDatabases, withAdmin } from '../support/databases.js';
import { pollUntil } from '../support/poll.js';
import { TEST_DATABASE_URL, uniqueEnvironment } from '../support/services.js';

const CLUSTER_ARN = 'arn:aws:rds:eu-west-1:123456789012:cluster:hp-boot-c1';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hostplane/boot/c1/database-admin-AbCdEf';
/** What the SDK reads from the process: the emulator's endpoint and any credentials (it checks that calls are signed, not how). */
const SDK_VARIABLES = ['AWS_ENDPOINT_URL_RDS_DATA', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
/** A Lambda's remaining time as the custom resource's invocation would give it. */
const INVOCATION = { getRemainingTimeInMillis: () => 60_000 };
const SUITE_DEADLINE_MS = 90_000;

function customResourceEvent(requestType: 'Create' | 'Update' | 'Delete', physicalResourceId = 'none'): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:framework',
    ResponseURL: 'https://cloudformation-custom-resource-response.invalid/',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Hostplane-boot-ControlPlane/1',
    RequestId: `request-${requestType}`,
    LogicalResourceId: 'Registry54D97553',
    ResourceType: 'Custom::HostplaneRegistry',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:framework', MigrationsDigest: migrationsDigest() },
  };
  if (requestType === 'Create') return { ...common, RequestType: 'Create' };
  if (requestType === 'Update') return { ...common, RequestType: 'Update', PhysicalResourceId: physicalResourceId, OldResourceProperties: common.ResourceProperties };
  return { ...common, RequestType: 'Delete', PhysicalResourceId: physicalResourceId };
}

/** GET /tenants as API Gateway hands it to the function. */
const listTenantsRequest = { httpMethod: 'GET', path: '/tenants', queryStringParameters: null } as unknown as APIGatewayProxyEvent;

/** A TCP forwarder to the machine's PostgreSQL that is not listening until `open()`: a database that wakes up late. */
function wakingDatabase(port: number) {
  const target = new URL(TEST_DATABASE_URL);
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    open: () =>
      new Promise<void>((resolve, reject) => {
        server = createServer((inbound) => {
          sockets.add(inbound);
          inbound.on('close', () => sockets.delete(inbound));
          const outbound = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
          inbound.pipe(outbound).pipe(inbound);
          inbound.on('close', () => outbound.destroy());
          outbound.on('close', () => inbound.destroy());
          inbound.on('error', () => undefined);
          outbound.on('error', () => undefined);
        });
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

describe('BootstrapRegistry (the stack bootstrap step) through the cloud ports, the real RDSDataClient and a Data API emulator over PostgreSQL', () => {
  const environment = uniqueEnvironment('boot');
  const prefix = `hp_${environment}`;
  const registry = `${prefix}_registry`;
  const admin = { username: `${prefix}_admin`, password: 'not-checked-on-loopback' };
  const savedVariables = Object.fromEntries(SDK_VARIABLES.map((name) => [name, process.env[name]]));
  let dataApi: DataApiServer | undefined;
  let database: ReturnType<typeof wakingDatabase> | undefined;

  beforeAll(async () => {
    // The cell's admin login is Aurora's master user: CREATEDB CREATEROLE, no superuser.
    await ensureAuroraLikeAdmin({ connectionString: TEST_DATABASE_URL }, admin);
    const databasePort = await freeLoopbackPort();
    database = wakingDatabase(databasePort);
    dataApi = await startDataApiServer({ host: '127.0.0.1', port: databasePort, secrets: { [SECRET_ARN]: admin }, resourceArn: CLUSTER_ARN });
    Object.assign(process.env, { AWS_ENDPOINT_URL_RDS_DATA: dataApi.endpoint, AWS_ACCESS_KEY_ID: 'AKIDREHEARSAL', AWS_SECRET_ACCESS_KEY: 'rehearsal' });
    // The function's environment as the stack sets it for BootstrapRegistry, minus the pg path (ADR 0005):
    // here CREATE DATABASE goes through the Data API, which the emulator runs outside a transaction.
    configurePorts(
      cloudPorts(
        {},
        {
          [CLOUD_VARIABLES.environment]: environment,
          [CLOUD_VARIABLES.region]: 'eu-west-1',
          [CLOUD_VARIABLES.cells]: JSON.stringify([{ cell: 'c1', maxTenants: 98 }]),
          [CLOUD_VARIABLES.databaseClusterArn]: CLUSTER_ARN,
          [CLOUD_VARIABLES.databaseSecretArn]: SECRET_ARN,
        },
      ),
    );
  }, SUITE_DEADLINE_MS);

  afterAll(async () => {
    resetPorts();
    for (const name of SDK_VARIABLES) {
      if (savedVariables[name] === undefined) delete process.env[name];
      else process.env[name] = savedVariables[name];
    }
    await dataApi?.stop();
    await database?.close();
    await dropTestDatabases(prefix);
  }, SUITE_DEADLINE_MS);

  it(
    'waits out a database that is not answering yet, then creates and migrates the registry, after which GET /tenants answers',
    async () => {
      await database!.open();
      await expect(listTenants(listTenantsRequest)).rejects.toThrow(/does not exist/);
      await database!.close();
      // Cold: the emulator answers DatabaseUnavailableException (the SDK retries it, then the bootstrap does) until the database listens.
      const bootstrapping = bootstrapRegistry(customResourceEvent('Create'), INVOCATION);
      const unavailable = () => dataApi!.requests.filter((request) => request.errorType === 'DatabaseUnavailableException').length;
      await pollUntil(() => (unavailable() >= 4 ? true : undefined), { timeoutMs: 30_000, what: 'the bootstrap to meet an unavailable database, past the SDK’s own retries' });
      await database!.open();

      const created = await bootstrapping;

      expect(created).toEqual({
        PhysicalResourceId: registry,
        Data: { Database: registry, Applied: REGISTRY_MIGRATIONS.map(({ version }) => version).join(','), MigrationsDigest: migrationsDigest() },
      });
      const owner = await withAdmin(undefined, async (client) =>
        (await client.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [registry])).rows[0]?.owner,
      );
      expect(owner).toBe(admin.username);
      const answer = await listTenants(listTenantsRequest);
      expect(answer.statusCode).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ items: [] });
    },
    SUITE_DEADLINE_MS,
  );

  it('applies nothing on an Update with no new migration, and leaves the registry and its rows alone', async () => {
    await ports().sql.query("INSERT INTO tenants (tenant_id, display_name, tier, status) VALUES ('acme', 'Acme', 'pooled', 'ACTIVE')");

    const updated = await bootstrapRegistry(customResourceEvent('Update', registry), INVOCATION);

    expect(updated.PhysicalResourceId).toBe(registry);
    expect(updated.Data.Applied).toBe('');
    const { rows } = await ports().sql.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows).toEqual(REGISTRY_MIGRATIONS.map(({ version }) => ({ version })));
    const answer = await listTenants(listTenantsRequest);
    expect((JSON.parse(answer.body) as { items: { tenantId: string }[] }).items.map((tenant) => tenant.tenantId)).toEqual(['acme']);
  });

  it('keeps the registry on Delete: it is data', async () => {
    const deleted = await bootstrapRegistry(customResourceEvent('Delete', registry), INVOCATION);

    expect(deleted.PhysicalResourceId).toBe(registry);
    const { rowCount } = await ports().sql.query("SELECT 1 FROM tenants WHERE tenant_id = 'acme'");
    expect(rowCount).toBe(1);
  });
});

describe('retryTransient', () => {
  const clock = () => {
    let now = 0;
    return { now: () => now, sleep: async (ms: number) => void (now += ms) };
  };

  it('retries transient errors with backoff until the work succeeds', async () => {
    const time = clock();
    const slept: number[] = [];
    let calls = 0;
    const result = await retryTransient(
      'waking',
      async () => {
        calls += 1;
        if (calls < 4) throw new TransientError('running SQL: DatabaseResumingException: the database is resuming');
        return 'done';
      },
      { deadline: 60_000, now: time.now, sleep: async (ms) => (slept.push(ms), time.sleep(ms)) },
    );

    expect(result).toBe('done');
    expect(slept).toEqual([1_000, 2_000, 4_000]);
  });

  it('gives up at the deadline, saying what it was doing and how many attempts it made', async () => {
    const time = clock();
    const failing = () => Promise.reject(new TransientError('DatabaseResumingException'));

    await expect(retryTransient('creating the registry database hp_x_registry', failing, { deadline: 10_000, ...time })).rejects.toThrow(
      /^creating the registry database hp_x_registry: still failing after 5 attempts: DatabaseResumingException$/,
    );
  });

  it('throws any other error at once', async () => {
    let calls = 0;
    const refused = () => {
      calls += 1;
      return Promise.reject(new PermanentError('AccessDeniedException'));
    };

    await expect(retryTransient('migrating', refused, { deadline: 60_000, ...clock() })).rejects.toBeInstanceOf(PermanentError);
    expect(calls).toBe(1);
  });
});
