import { NotFoundError } from '../domain/errors.js';
import type { SqlExecutor, SqlRow } from '../ports/sql.js';

export type DeploymentKind = 'deploy' | 'rollback';
export type DeploymentStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

/** One run of the deploy state machine, as the registry keeps it. */
export interface DeploymentRecord {
  readonly deploymentId: string;
  readonly tenantId: string;
  /** The operation it runs under: its own deploy operation, or the provision that started it. */
  readonly operationId: string;
  readonly kind: DeploymentKind;
  readonly status: DeploymentStatus;
  /** The definition's name. */
  readonly app: string;
  /** The app definition, as the requester wrote it (already validated). */
  readonly definition: unknown;
  readonly allowDestructive: boolean;
  /** For a rollback: the deployment whose change it undoes. */
  readonly rollbackOf: string | null;
  readonly releaseId: string | null;
  /** The release that served before this one was published. */
  readonly previousReleaseId: string | null;
  /** Published, found unhealthy, and the previous release made current again. */
  readonly rolledBack: boolean;
  /** Summaries of the migration steps applied. */
  readonly migrations: readonly string[];
  readonly error: string | null;
  readonly requestedBy: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
}

export interface NewDeployment {
  readonly deploymentId: string;
  readonly tenantId: string;
  readonly operationId: string;
  readonly kind: DeploymentKind;
  readonly app: string;
  readonly definition: unknown;
  readonly allowDestructive: boolean;
  readonly rollbackOf?: string;
  readonly requestedBy: string;
}

/** The deployments table: written by the deploy steps, read by the API. */
export class DeploymentRegistry {
  constructor(private readonly sql: SqlExecutor) {}

  async insert(deployment: NewDeployment): Promise<DeploymentRecord> {
    const { rows } = await this.sql.query(
      `INSERT INTO deployments (deployment_id, tenant_id, operation_id, kind, status, app, definition, allow_destructive, rollback_of, requested_by)
       VALUES (:deploymentId, :tenantId, :operationId, :kind, 'RUNNING', :app, CAST(:definition AS json), :allowDestructive, :rollbackOf, :requestedBy)
       RETURNING *`,
      {
        deploymentId: deployment.deploymentId,
        tenantId: deployment.tenantId,
        operationId: deployment.operationId,
        kind: deployment.kind,
        app: deployment.app,
        definition: JSON.stringify(deployment.definition),
        allowDestructive: deployment.allowDestructive,
        rollbackOf: deployment.rollbackOf ?? null,
        requestedBy: deployment.requestedBy,
      },
    );
    return toDeployment(rows[0]!);
  }

  async get(deploymentId: string): Promise<DeploymentRecord | undefined> {
    const { rows } = await this.sql.query('SELECT * FROM deployments WHERE deployment_id = :deploymentId', { deploymentId });
    return rows[0] ? toDeployment(rows[0]) : undefined;
  }

  async require(deploymentId: string): Promise<DeploymentRecord> {
    const deployment = await this.get(deploymentId);
    if (!deployment) throw new NotFoundError(`no deployment ${deploymentId}`);
    return deployment;
  }

  /** A tenant's deployments, newest first. */
  async listForTenant(tenantId: string, limit = 50): Promise<DeploymentRecord[]> {
    const { rows } = await this.sql.query(
      'SELECT * FROM deployments WHERE tenant_id = :tenantId ORDER BY started_at DESC, deployment_id LIMIT :limit',
      { tenantId, limit },
    );
    return rows.map(toDeployment);
  }

  async runningForOperation(operationId: string): Promise<DeploymentRecord[]> {
    const { rows } = await this.sql.query(
      "SELECT * FROM deployments WHERE operation_id = :operationId AND status = 'RUNNING'",
      { operationId },
    );
    return rows.map(toDeployment);
  }

  /** The newest successful deployment that made `releaseId` current: where a rollback finds its definition. */
  async lastSucceededWithRelease(tenantId: string, releaseId: string): Promise<DeploymentRecord | undefined> {
    const { rows } = await this.sql.query(
      `SELECT * FROM deployments WHERE tenant_id = :tenantId AND release_id = :releaseId AND status = 'SUCCEEDED'
        ORDER BY started_at DESC LIMIT 1`,
      { tenantId, releaseId },
    );
    return rows[0] ? toDeployment(rows[0]) : undefined;
  }

  async recordRelease(deploymentId: string, release: { releaseId: string; previousReleaseId?: string | null }): Promise<void> {
    await this.sql.query(
      `UPDATE deployments SET release_id = :releaseId,
              previous_release_id = COALESCE(:previousReleaseId, previous_release_id)
        WHERE deployment_id = :deploymentId`,
      { deploymentId, releaseId: release.releaseId, previousReleaseId: release.previousReleaseId ?? null },
    );
  }

  async recordMigrations(deploymentId: string, summaries: readonly string[]): Promise<void> {
    await this.sql.query('UPDATE deployments SET migrations = CAST(:migrations AS jsonb) WHERE deployment_id = :deploymentId', {
      deploymentId,
      migrations: JSON.stringify(summaries),
    });
  }

  /** Notes that a deployment that ended abnormally had its release flipped back to `to`. */
  async recordRolledBack(deploymentId: string, to: string): Promise<void> {
    await this.sql.query(
      `UPDATE deployments SET rolled_back = true, error = concat_ws('; ', error, CAST(:note AS text)) WHERE deployment_id = :deploymentId`,
      { deploymentId, note: `rolled back to ${to}` },
    );
  }

  /** Ends a running deployment; says whether it was still running (a second call changes nothing). */
  async finish(
    deploymentId: string,
    status: Exclude<DeploymentStatus, 'RUNNING'>,
    outcome: { error?: string; rolledBack?: boolean } = {},
  ): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `UPDATE deployments SET status = :status, error = :error, rolled_back = :rolledBack, ended_at = clock_timestamp()
        WHERE deployment_id = :deploymentId AND status = 'RUNNING'`,
      { deploymentId, status, error: outcome.error ?? null, rolledBack: outcome.rolledBack ?? false },
    );
    return rowCount > 0;
  }
}

function nullableString(value: SqlRow[string] | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}

function toDeployment(row: SqlRow): DeploymentRecord {
  return {
    deploymentId: String(row.deployment_id),
    tenantId: String(row.tenant_id),
    operationId: String(row.operation_id),
    kind: String(row.kind) as DeploymentKind,
    status: String(row.status) as DeploymentStatus,
    app: String(row.app),
    definition: JSON.parse(String(row.definition)) as unknown,
    allowDestructive: row.allow_destructive === true || row.allow_destructive === 'true',
    rollbackOf: nullableString(row.rollback_of),
    releaseId: nullableString(row.release_id),
    previousReleaseId: nullableString(row.previous_release_id),
    rolledBack: row.rolled_back === true || row.rolled_back === 'true',
    migrations: JSON.parse(String(row.migrations)) as string[],
    error: nullableString(row.error),
    requestedBy: String(row.requested_by),
    startedAt: String(row.started_at),
    endedAt: nullableString(row.ended_at),
  };
}
