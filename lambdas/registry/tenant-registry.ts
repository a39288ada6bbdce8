import { ConflictError, NotFoundError } from '../domain/errors.js';
import type { TenantPlan, Tier } from '../domain/tenant-plan.js';
import { sourcesOf, type TenantStatus } from '../domain/tenant-status.js';
import type { SqlExecutor, SqlParams, SqlPort, SqlRow } from '../ports/sql.js';
import type {
  AuditEvent,
  AuditRecord,
  OperationKind,
  OperationRecord,
  OperationStatus,
  StepRecord,
  StepStatus,
  TenantRecord,
} from './records.js';


/**
 * The tenant registry: tenants, operations (one per state-machine execution), their steps, and
 * audit events. Every status change goes through {@link TenantRegistry.transition}, which applies
 * the status model's rules in the same statement that writes.
 */
export class TenantRegistry {
  constructor(private readonly sql: SqlExecutor) {}

  /** The connection (or transaction) this registry writes through, for other tables in the same transaction. */
  get executor(): SqlExecutor {
    return this.sql;
  }

  /** Runs `work` with a registry bound to one transaction. */
  static async inTransaction<T>(sql: SqlPort, work: (registry: TenantRegistry) => Promise<T>): Promise<T> {
    return sql.transaction((tx) => work(new TenantRegistry(tx)));
  }

  async getTenant(tenantId: string, { forUpdate = false } = {}): Promise<TenantRecord | undefined> {
    const { rows } = await this.sql.query(
      `SELECT * FROM tenants WHERE tenant_id = :tenantId${forUpdate ? ' FOR UPDATE' : ''}`,
      { tenantId },
    );
    return rows[0] ? toTenant(rows[0]) : undefined;
  }

  async requireTenant(tenantId: string): Promise<TenantRecord> {
    const tenant = await this.getTenant(tenantId);
    if (!tenant) throw new NotFoundError(`no tenant ${tenantId}`);
    return tenant;
  }

  async listTenants({ includeDeleted = false } = {}): Promise<TenantRecord[]> {
    const { rows } = await this.sql.query(
      `SELECT * FROM tenants ${includeDeleted ? '' : "WHERE status <> 'DELETED'"} ORDER BY created_at, tenant_id`,
    );
    return rows.map(toTenant);
  }

  /** Tenants that hold a place in each cell (every status but DELETED). */
  async countTenantsByCell(): Promise<Map<string, number>> {
    const { rows } = await this.sql.query(
      `SELECT cell, count(*)::integer AS tenants FROM tenants
        WHERE status <> 'DELETED' AND cell IS NOT NULL GROUP BY cell`,
    );
    return new Map(rows.map((row) => [String(row.cell), Number(row.tenants)]));
  }

  /**
   * How many tenants of `cell` each of its `caches` holds (index → count): those not DELETED whose
   * plan wants a cache, by the cache the plan records (none recorded: cache 0, as planned before
   * cells had several).
   */
  async countTenantsByCache(cell: string, caches: number): Promise<number[]> {
    const { rows } = await this.sql.query(
      `SELECT COALESCE((plan->'cache'->>'index')::integer, 0) AS cache, count(*)::integer AS tenants FROM tenants
        WHERE status <> 'DELETED' AND cell = :cell AND plan IS NOT NULL AND COALESCE((plan->'cache'->>'enabled')::boolean, true)
        GROUP BY 1`,
      { cell },
    );
    const counts = Array.from({ length: caches }, () => 0);
    for (const row of rows) {
      const index = Number(row.cache);
      if (index >= 0 && index < caches) counts[index] = Number(row.tenants);
    }
    return counts;
  }

  /**
   * Inserts a new tenant. Another request that inserted the same id first (and committed, or holds
   * it) is a ConflictError, not a unique violation: ON CONFLICT keeps the transaction usable, so the
   * caller can answer 409, or replay the winner's operation for the same Idempotency-Key.
   */
  async insertTenant(tenant: { tenantId: string; displayName: string; tier: Tier; status: TenantStatus }): Promise<void> {
    const { rowCount } = await this.sql.query(
      `INSERT INTO tenants (tenant_id, display_name, tier, status) VALUES (:tenantId, :displayName, :tier, :status)
       ON CONFLICT (tenant_id) DO NOTHING`,
      tenant,
    );
    if (rowCount === 0) throw new ConflictError(`tenant ${tenant.tenantId} was just requested by another request`, { tenantId: tenant.tenantId });
  }

  /**
   * Moves a tenant to `to` if its current status allows it; otherwise throws a ConflictError that
   * says what the status is. `changes` are written in the same statement.
   */
  async transition(
    tenantId: string,
    to: TenantStatus,
    changes: { lastError?: string | null; displayName?: string; tier?: Tier } = {},
  ): Promise<TenantRecord> {
    const sources = sourcesOf(to);
    const params: Record<string, string | null> = { tenantId, to };
    sources.forEach((status, i) => (params[`from${i}`] = status));
    const sets = ['status = :to', 'updated_at = now()'];
    if (changes.lastError !== undefined) {
      sets.push('last_error = :lastError');
      params.lastError = changes.lastError;
    }
    if (changes.displayName !== undefined) {
      sets.push('display_name = :displayName');
      params.displayName = changes.displayName;
    }
    if (changes.tier !== undefined) {
      sets.push('tier = :tier');
      params.tier = changes.tier;
    }
    const { rows } = await this.sql.query(
      `UPDATE tenants SET ${sets.join(', ')}
        WHERE tenant_id = :tenantId AND status IN (${sources.map((_, i) => `:from${i}`).join(', ')})
        RETURNING *`,
      params,
    );
    if (rows[0]) return toTenant(rows[0]);
    const current = await this.requireTenant(tenantId);
    throw new ConflictError(`tenant ${tenantId} is ${current.status} and cannot become ${to}`, {
      tenantId,
      status: current.status,
    });
  }

  async savePlan(tenantId: string, plan: TenantPlan): Promise<void> {
    await this.sql.query(
      `UPDATE tenants SET plan = CAST(:plan AS jsonb), cell = :cell, tier = :tier, display_name = :displayName,
              updated_at = now() WHERE tenant_id = :tenantId`,
      { tenantId, plan: JSON.stringify(plan), cell: plan.scope.cell, tier: plan.tier, displayName: plan.displayName },
    );
  }

  /** A deleted tenant serves nothing: no url, no version. */
  async clearServing(tenantId: string): Promise<void> {
    await this.sql.query('UPDATE tenants SET url = NULL, version = NULL, updated_at = now() WHERE tenant_id = :tenantId', { tenantId });
  }

  async setServing(tenantId: string, serving: { url?: string | null; version?: string | null }): Promise<void> {
    await this.sql.query(
      `UPDATE tenants SET url = COALESCE(:url, url), version = COALESCE(:version, version), updated_at = now()
        WHERE tenant_id = :tenantId`,
      { tenantId, url: serving.url ?? null, version: serving.version ?? null },
    );
  }

  /** Records a new running operation; a ConflictError names the one already running on the tenant. */
  async insertOperation(operation: {
    operationId: string;
    tenantId: string;
    kind: OperationKind;
    input: unknown;
    requestedBy: string;
    idempotencyKey?: string;
    requestHash?: string;
  }): Promise<OperationRecord> {
    // ON CONFLICT instead of catching the unique violation: a caught violation leaves the
    // transaction aborted, and the next query in it (the lookup below) failed with a 500.
    const { rows } = await this.sql.query(
      `INSERT INTO operations (operation_id, tenant_id, kind, status, input, requested_by, idempotency_key, request_hash)
       VALUES (:operationId, :tenantId, :kind, 'RUNNING', CAST(:input AS jsonb), :requestedBy, :idempotencyKey, :requestHash)
       ON CONFLICT DO NOTHING
       RETURNING *`,
      {
        operationId: operation.operationId,
        tenantId: operation.tenantId,
        kind: operation.kind,
        input: JSON.stringify(operation.input),
        requestedBy: operation.requestedBy,
        idempotencyKey: operation.idempotencyKey ?? null,
        requestHash: operation.requestHash ?? null,
      },
    );
    if (rows[0]) return toOperation(rows[0]);
    const running = await this.runningOperation(operation.tenantId);
    if (running) {
      throw new ConflictError(`tenant ${operation.tenantId} already has a ${running.kind} operation running`, {
        operationId: running.operationId,
      });
    }
    throw new ConflictError('this Idempotency-Key is already in use');
  }

  async runningOperation(tenantId: string): Promise<OperationRecord | undefined> {
    const { rows } = await this.sql.query(
      `SELECT * FROM operations WHERE tenant_id = :tenantId AND status = 'RUNNING'`,
      { tenantId },
    );
    return rows[0] ? toOperation(rows[0]) : undefined;
  }

  async findOperationByIdempotencyKey(idempotencyKey: string): Promise<OperationRecord | undefined> {
    const { rows } = await this.sql.query(`SELECT * FROM operations WHERE idempotency_key = :idempotencyKey`, {
      idempotencyKey,
    });
    return rows[0] ? toOperation(rows[0]) : undefined;
  }

  /**
   * The operation an earlier request with this Idempotency-Key made, to answer again (200); a
   * ConflictError when that request was a different one; undefined when the key is new (or absent).
   */
  async replayedOperation(idempotencyKey: string | undefined, requestHash: string): Promise<OperationRecord | undefined> {
    if (!idempotencyKey) return undefined;
    const earlier = await this.findOperationByIdempotencyKey(idempotencyKey);
    if (earlier && earlier.requestHash !== requestHash) {
      throw new ConflictError('this Idempotency-Key was used before with a different request', { operationId: earlier.operationId });
    }
    return earlier;
  }

  async getOperation(operationId: string): Promise<OperationRecord | undefined> {
    const { rows } = await this.sql.query(`SELECT * FROM operations WHERE operation_id = :operationId`, { operationId });
    return rows[0] ? toOperation(rows[0]) : undefined;
  }

  async setExecution(operationId: string, executionId: string): Promise<void> {
    await this.sql.query(`UPDATE operations SET execution_id = :executionId WHERE operation_id = :operationId`, {
      operationId,
      executionId,
    });
  }

  /** Closes a running operation; says whether it was still running (a second close changes nothing). */
  async finishOperation(operationId: string, status: Exclude<OperationStatus, 'RUNNING'>, error?: string, result?: unknown): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `UPDATE operations SET status = :status, error = :error, result = CAST(:result AS jsonb), ended_at = now()
        WHERE operation_id = :operationId AND status = 'RUNNING'`,
      { operationId, status, error: error ?? null, result: result === undefined ? null : JSON.stringify(result) },
    );
    return rowCount > 0;
  }

  /** Replaces what an ended operation gave (a restore adds the deployment it started once its lock was released). */
  async recordOperationResult(operationId: string, result: unknown): Promise<void> {
    await this.sql.query(`UPDATE operations SET result = CAST(:result AS jsonb) WHERE operation_id = :operationId`, {
      operationId,
      result: JSON.stringify(result),
    });
  }

  async stepStarted(operationId: string, state: string): Promise<number> {
    const { rows } = await this.sql.query(
      `WITH step AS (
         INSERT INTO operation_steps (operation_id, state, status) VALUES (:operationId, :state, 'RUNNING')
         RETURNING step_id
       ), op AS (
         UPDATE operations SET current_state = :state WHERE operation_id = :operationId
       )
       SELECT step_id FROM step`,
      { operationId, state },
    );
    return Number(rows[0]!.step_id);
  }

  async stepFinished(stepId: number, status: Exclude<StepStatus, 'RUNNING'>, note: { detail?: string; error?: string } = {}): Promise<void> {
    await this.sql.query(
      `UPDATE operation_steps SET status = :status, detail = :detail, error = :error, ended_at = clock_timestamp()
        WHERE step_id = :stepId`,
      { stepId, status, detail: note.detail ?? null, error: note.error ?? null },
    );
  }

  async listSteps(operationId: string): Promise<StepRecord[]> {
    const { rows } = await this.sql.query(
      `SELECT * FROM operation_steps WHERE operation_id = :operationId ORDER BY step_id`,
      { operationId },
    );
    return rows.map(toStep);
  }

  async listOperations(tenantId: string): Promise<OperationRecord[]> {
    const { rows } = await this.sql.query(
      `SELECT * FROM operations WHERE tenant_id = :tenantId ORDER BY started_at DESC`,
      { tenantId },
    );
    return rows.map(toOperation);
  }

  async audit(event: AuditEvent): Promise<void> {
    await this.sql.query(
      `INSERT INTO audit_events (actor, action, tenant_id, operation_id, detail)
       VALUES (:actor, :action, :tenantId, :operationId, CAST(:detail AS jsonb))`,
      {
        actor: event.actor,
        action: event.action,
        tenantId: event.tenantId ?? null,
        operationId: event.operationId ?? null,
        detail: JSON.stringify(event.detail ?? {}),
      } satisfies SqlParams,
    );
  }

  /** Audits what an operation did, as the one who asked for it (`hostplane` when nobody did). */
  async auditOperation(operationId: string, event: Omit<AuditEvent, 'actor' | 'operationId'>): Promise<void> {
    const operation = await this.getOperation(operationId);
    await this.audit({ ...event, actor: operation?.requestedBy ?? 'hostplane', operationId });
  }

  async listAudit(tenantId: string): Promise<AuditRecord[]> {
    const { rows } = await this.sql.query(
      `SELECT * FROM audit_events WHERE tenant_id = :tenantId ORDER BY event_id`,
      { tenantId },
    );
    return rows.map((row) => ({
      eventId: Number(row.event_id),
      at: String(row.at),
      actor: String(row.actor),
      action: String(row.action),
      tenantId: nullableString(row.tenant_id),
      operationId: nullableString(row.operation_id),
      detail: JSON.parse(String(row.detail)) as Record<string, unknown>,
    }));
  }
}

function nullableString(value: SqlRow[string] | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}

function toTenant(row: SqlRow): TenantRecord {
  return {
    tenantId: String(row.tenant_id),
    displayName: String(row.display_name),
    tier: String(row.tier) as Tier,
    cell: nullableString(row.cell),
    status: String(row.status) as TenantStatus,
    url: nullableString(row.url),
    version: nullableString(row.version),
    plan: row.plan ? (JSON.parse(String(row.plan)) as TenantPlan) : null,
    lastError: nullableString(row.last_error),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

function toOperation(row: SqlRow): OperationRecord {
  return {
    operationId: String(row.operation_id),
    tenantId: String(row.tenant_id),
    kind: String(row.kind) as OperationKind,
    status: String(row.status) as OperationStatus,
    input: JSON.parse(String(row.input)) as unknown,
    currentState: nullableString(row.current_state),
    error: nullableString(row.error),
    idempotencyKey: nullableString(row.idempotency_key),
    requestHash: nullableString(row.request_hash),
    requestedBy: String(row.requested_by),
    executionId: nullableString(row.execution_id),
    result: row.result === null || row.result === undefined ? null : (JSON.parse(String(row.result)) as unknown),
    startedAt: String(row.started_at),
    endedAt: nullableString(row.ended_at),
  };
}

function toStep(row: SqlRow): StepRecord {
  return {
    stepId: Number(row.step_id),
    state: String(row.state),
    status: String(row.status) as StepStatus,
    detail: nullableString(row.detail),
    error: nullableString(row.error),
    startedAt: String(row.started_at),
    endedAt: nullableString(row.ended_at),
  };
}
