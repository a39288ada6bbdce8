import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConflictError } from '../../lambdas/domain/errors.js';
import { requestDeployment } from '../../lambdas/deploy/request-deployment.js';
import { parseProvisionRequest, planTenant } from '../../lambdas/domain/tenant-plan.js';
import type { WorkflowsPort } from '../../lambdas/ports/workflows.js';
import { requestProvision } from '../../lambdas/provision/request-provision.js';
import { migrateRegistry } from '../../lambdas/registry/migrations.js';
import { TenantRegistry } from '../../lambdas/registry/tenant-registry.js';
import type { PgSql } from '../../local/adapters/pg-sql.js';
import { createTestDatabase, dropTestDatabases } from '../support/databases.js';
import { uniqueEnvironment } from '../support/services.js';

/**
 * Requests racing for one tenant on the real registry: whatever the interleaving, every answer is
 * the winner's (created), a replay of it (same Idempotency-Key) or a ConflictError (409), never a
 * raw database error (500). Each race runs its requests at once on separate connections.
 */
describe('requests racing for one tenant', () => {
  const environment = uniqueEnvironment('race');
  const prefix = `hp_${environment}`;
  let sql: PgSql;
  const started: string[] = [];
  const workflows: WorkflowsPort = {
    start: async (_workflow, executionName) => {
      started.push(executionName);
      return { executionId: `race:${executionName}` };
    },
  };

  beforeAll(async () => {
    sql = await createTestDatabase(`${prefix}_registry`);
    await migrateRegistry(sql);
  });

  afterAll(async () => {
    await sql.close();
    await dropTestDatabases(prefix);
  });

  /** Each outcome as `created`, `replayed`, `conflict` or the unexpected error's name and message. */
  async function race<T extends { created: boolean }>(count: number, request: () => Promise<T>): Promise<string[]> {
    const outcomes = await Promise.allSettled(Array.from({ length: count }, request));
    return outcomes.map((outcome) =>
      outcome.status === 'fulfilled'
        ? outcome.value.created
          ? 'created'
          : 'replayed'
        : outcome.reason instanceof ConflictError
          ? 'conflict'
          : `${(outcome.reason as Error).name}: ${(outcome.reason as Error).message}`,
    );
  }

  const tally = (outcomes: string[]) => outcomes.reduce<Record<string, number>>((counts, outcome) => ({ ...counts, [outcome]: (counts[outcome] ?? 0) + 1 }), {});

  it('thirty POST /tenants for one new id: one created, the rest 409', async () => {
    const outcomes = await race(30, () => requestProvision({ tenantId: 'race-a' }, { requestedBy: 'test' }, sql, workflows));
    expect(tally(outcomes)).toEqual({ created: 1, conflict: 29 });
    expect(await new TenantRegistry(sql).getTenant('race-a')).toMatchObject({ status: 'REQUESTED' });
  });

  it('thirty POST /tenants with one Idempotency-Key: one created, the rest replay it', async () => {
    const outcomes = await race(30, () => requestProvision({ tenantId: 'race-b' }, { requestedBy: 'test', idempotencyKey: 'race-key-b' }, sql, workflows));
    expect(tally(outcomes)).toEqual({ created: 1, replayed: 29 });
    const { rows } = await sql.query(`SELECT count(*)::int AS n FROM operations WHERE tenant_id = 'race-b'`);
    expect(rows[0]!.n).toBe(1);
  });

  it('two deploys at once to an ACTIVE tenant: one started, the other 409', async () => {
    const registry = new TenantRegistry(sql);
    await registry.insertTenant({ tenantId: 'race-c', displayName: 'Race C', tier: 'pooled', status: 'REQUESTED' });
    await registry.transition('race-c', 'PROVISIONING');
    const plan = planTenant(parseProvisionRequest({ tenantId: 'race-c' }), environment, 'c1');
    await registry.savePlan('race-c', plan);
    // The deploy reads the tenant's schema from its (empty) database.
    await (await createTestDatabase(plan.names.database)).close();
    await registry.transition('race-c', 'ACTIVE');
    const definition = { name: 'Race', entities: [{ name: 'item', fields: [{ name: 'title', type: 'string' }] }] };

    for (let round = 0; round < 5; round++) {
      const outcomes = await race(2, () => requestDeployment('race-c', { definition }, { requestedBy: 'test' }, sql, workflows));
      expect(tally(outcomes)).toEqual({ created: 1, conflict: 1 });
      await sql.query(`UPDATE operations SET status = 'SUCCEEDED', ended_at = now() WHERE tenant_id = 'race-c' AND status = 'RUNNING'`);
      await sql.query(`UPDATE deployments SET status = 'SUCCEEDED' WHERE tenant_id = 'race-c' AND status = 'RUNNING'`);
    }
  });
});
