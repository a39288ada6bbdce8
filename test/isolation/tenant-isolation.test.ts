import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import { tenantResourceNames } from '../../lambdas/domain/naming.js';
import type { TenantId } from '../../lambdas/domain/tenant-id.js';
import type { SecretValue } from '../../lambdas/ports/secrets.js';
import { api, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { pollUntil } from '../support/poll.js';

/** Two tenants provisioned for real; each then tries to reach the other's data with its own credentials. */
describe('tenant isolation on the shared database and cache', () => {
  let cp: TestControlPlane;
  const secrets: Record<'a' | 'b', { database: SecretValue; cache: SecretValue }> = {} as never;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    for (const tenant of ['iso-a', 'iso-b']) {
      const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: tenant });
      await pollUntil(
        async () => ((await api(cp.apiUrl, 'GET', `/operations/${String(created.body.operationId)}`)).body.status === 'SUCCEEDED' ? true : undefined),
        { timeoutMs: 30_000, what: `${tenant} to be provisioned` },
      );
    }
    for (const [key, tenant] of [['a', 'iso-a'], ['b', 'iso-b']] as const) {
      const names = tenantResourceNames({ environment: cp.environment, cell: 'local' }, tenant as TenantId);
      secrets[key] = {
        database: (await cp.ports.secrets.get(names.databaseSecret))!,
        cache: (await cp.ports.secrets.get(names.cacheSecret))!,
      };
    }
  });

  afterAll(async () => {
    await cp?.destroy();
  });

  const connect = (as: SecretValue, database: string) => {
    const client = new pg.Client({ host: as.host, port: Number(as.port), user: as.username, password: as.password, database });
    client.on('error', () => undefined);
    return client;
  };

  it("lets a tenant work in its own database's schema", async () => {
    const client = connect(secrets.a.database, secrets.a.database.dbname!);
    await client.connect();
    try {
      await client.query('CREATE TABLE notes (id serial PRIMARY KEY, body text)');
      await client.query("INSERT INTO notes (body) VALUES ('secret of a')");
      const { rows } = await client.query('SELECT current_schema() AS schema, count(*)::int AS n FROM notes');
      expect(rows[0]).toEqual({ schema: 'app', n: 1 });
      await expect(client.query('CREATE TABLE public.sneaky (id int)')).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }
  });

  it("refuses tenant B's credentials on tenant A's database", async () => {
    const client = connect(secrets.b.database, secrets.a.database.dbname!);
    await expect(client.connect()).rejects.toThrow(/permission denied for database/);
    await client.end().catch(() => undefined);
  });

  it("refuses tenant A's credentials on the registry database", async () => {
    const client = connect(secrets.a.database, `hp_${cp.environment}_registry`);
    await expect(client.connect()).rejects.toThrow(/permission denied for database/);
    await client.end().catch(() => undefined);
  });

  it("keeps tenant A's cache user out of tenant B's keys and channels", async () => {
    const asA = new Redis({
      host: secrets.a.cache.host,
      port: Number(secrets.a.cache.port),
      username: secrets.a.cache.username,
      password: secrets.a.cache.password,
      enableReadyCheck: false,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    await asA.connect();
    try {
      await asA.set('t:iso-a:greeting', 'hello');
      expect(await asA.get('t:iso-a:greeting')).toBe('hello');
      await expect(asA.get('t:iso-b:greeting')).rejects.toThrow(/NOPERM/);
      await expect(asA.set('t:iso-b:greeting', 'x')).rejects.toThrow(/NOPERM/);
      await expect(asA.publish('t:iso-b:deploy', 'x')).rejects.toThrow(/NOPERM/);
      // Allowed (the tenant's reloader may be subscribed, so the count of receivers is not fixed).
      expect(typeof (await asA.publish('t:iso-a:deploy', 'x'))).toBe('number');
      await asA.del('t:iso-a:greeting');
    } finally {
      asA.disconnect();
    }
  });
});
