import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConflictError } from '../../lambdas/domain/errors.js';
import { migrateRegistry, REGISTRY_MIGRATIONS } from '../../lambdas/registry/migrations.js';
import { TenantRegistry } from '../../lambdas/registry/tenant-registry.js';
import type { PgSql } from '../../local/adapters/pg-sql.js';
import { createTestDatabase, dropTestDatabases } from '../support/databases.js';
import { uniqueEnvironment } from '../support/services.js';

describe('TenantRegistry on real PostgreSQL', () => {
  const prefix = `hp_${uniqueEnvironment('reg')}`;
  let sql: PgSql;
  let registry: TenantRegistry;

  beforeAll(async () => {
    sql = await createTestDatabase(`${prefix}_registry`);
    await migrateRegistry(sql);
    registry = new TenantRegistry(sql);
  });

  afterAll(async () => {
    await sql.close();
    await dropTestDatabases(prefix);
  });

  it('applies each migration once, even when run again or concurrently', async () => {
    const again = await Promise.all([migrateRegistry(sql), migrateRegistry(sql)]);
    expect(again).toEqual([[], []]);
    const { rows } = await sql.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows).toEqual(REGISTRY_MIGRATIONS.map(({ version }) => ({ version })));
  });

  it('moves a tenant only along allowed transitions', async () => {
    await registry.insertTenant({ tenantId: 'acme', displayName: 'Acme', tier: 'pooled', status: 'REQUESTED' });
    await expect(registry.transition('acme', 'ACTIVE')).rejects.toThrow('acme is REQUESTED and cannot become ACTIVE');
    await registry.transition('acme', 'PROVISIONING');
    const active = await registry.transition('acme', 'ACTIVE', { lastError: null });
    expect(active.status).toBe('ACTIVE');
    await expect(registry.transition('acme', 'DELETED')).rejects.toBeInstanceOf(ConflictError);
  });

  it('allows one running operation per tenant and names it to the second caller', async () => {
    await registry.insertTenant({ tenantId: 'beta', displayName: 'Beta', tier: 'pooled', status: 'REQUESTED' });
    const first = { operationId: 'op-1', tenantId: 'beta', kind: 'provision' as const, input: { a: 1 }, requestedBy: 'test' };
    const results = await Promise.allSettled([
      registry.insertOperation(first),
      registry.insertOperation({ ...first, operationId: 'op-2' }),
    ]);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    const winner = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ operationId: string }>;
    expect(rejected[0]!.reason).toBeInstanceOf(ConflictError);
    expect((rejected[0]!.reason as ConflictError).details.operationId).toBe(winner.value.operationId);

    expect(await registry.finishOperation(winner.value.operationId, 'SUCCEEDED')).toBe(true);
    expect(await registry.finishOperation(winner.value.operationId, 'FAILED', 'late')).toBe(false);
    await registry.insertOperation({ ...first, operationId: 'op-3' });
  });

  it('records steps, the current state and audit events', async () => {
    await registry.insertTenant({ tenantId: 'gamma', displayName: 'Gamma', tier: 'pooled', status: 'REQUESTED' });
    await registry.insertOperation({ operationId: 'op-g', tenantId: 'gamma', kind: 'provision', input: {}, requestedBy: 'test' });
    const step = await registry.stepStarted('op-g', 'CreateTenantDatabase');
    await registry.stepFinished(step, 'SKIPPED', { detail: 'no cache' });
    const operation = await registry.getOperation('op-g');
    expect(operation?.currentState).toBe('CreateTenantDatabase');
    expect(await registry.listSteps('op-g')).toEqual([
      expect.objectContaining({ state: 'CreateTenantDatabase', status: 'SKIPPED', detail: 'no cache' }),
    ]);
    await registry.audit({ actor: 'alice', action: 'tenant.provision.requested', tenantId: 'gamma', detail: { tier: 'pooled' } });
    const [event] = await registry.listAudit('gamma');
    expect(event).toEqual(expect.objectContaining({ actor: 'alice', action: 'tenant.provision.requested', detail: { tier: 'pooled' } }));
    expect(Date.parse(event!.at)).not.toBeNaN();
  });

  it('rolls a transaction back when its work throws', async () => {
    await expect(
      TenantRegistry.inTransaction(sql, async (tx) => {
        await tx.insertTenant({ tenantId: 'delta', displayName: 'Delta', tier: 'pooled', status: 'REQUESTED' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await registry.getTenant('delta')).toBeUndefined();
  });
});
