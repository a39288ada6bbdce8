import type { SqlPort } from '../ports/sql.js';

/** Versioned schema of the tenant registry. Append only: a released migration never changes. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

export const REGISTRY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants, operations, steps and audit events',
    statements: [
      // Tenant logins must not even connect to the registry.
      `DO $$ BEGIN EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()); END $$`,
      `CREATE TABLE tenants (
         tenant_id     text PRIMARY KEY,
         display_name  text NOT NULL,
         tier          text NOT NULL,
         cell          text,
         status        text NOT NULL,
         url           text,
         version       text,
         plan          jsonb,
         last_error    text,
         created_at    timestamptz NOT NULL DEFAULT now(),
         updated_at    timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE operations (
         operation_id     text PRIMARY KEY,
         tenant_id        text NOT NULL REFERENCES tenants (tenant_id),
         kind             text NOT NULL,
         status           text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
         input            jsonb NOT NULL,
         current_state    text,
         error            text,
         idempotency_key  text,
         request_hash     text,
         requested_by     text NOT NULL,
         execution_id     text,
         started_at       timestamptz NOT NULL DEFAULT now(),
         ended_at         timestamptz
       )`,
      // The lock: at most one running operation per tenant, enforced by the database itself.
      `CREATE UNIQUE INDEX operations_one_running_per_tenant ON operations (tenant_id) WHERE status = 'RUNNING'`,
      `CREATE UNIQUE INDEX operations_idempotency_key ON operations (idempotency_key) WHERE idempotency_key IS NOT NULL`,
      `CREATE INDEX operations_by_tenant ON operations (tenant_id, started_at DESC)`,
      `CREATE TABLE operation_steps (
         step_id       bigserial PRIMARY KEY,
         operation_id  text NOT NULL REFERENCES operations (operation_id),
         state         text NOT NULL,
         status        text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'SKIPPED', 'FAILED')),
         detail        text,
         error         text,
         started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
         ended_at      timestamptz
       )`,
      `CREATE INDEX operation_steps_by_operation ON operation_steps (operation_id, step_id)`,
      `CREATE TABLE audit_events (
         event_id      bigserial PRIMARY KEY,
         at            timestamptz NOT NULL DEFAULT clock_timestamp(),
         actor         text NOT NULL,
         action        text NOT NULL,
         tenant_id     text,
         operation_id  text,
         detail        jsonb NOT NULL DEFAULT '{}'::jsonb
       )`,
      `CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, at)`,
    ],
  },
  {
    version: 2,
    name: 'deployments',
    statements: [
      // One row per run of the deploy state machine. `definition` is json, not jsonb: it keeps the
      // text as written, so the definition's fingerprint (and the release built from it) stays stable.
      `CREATE TABLE deployments (
         deployment_id        text PRIMARY KEY,
         tenant_id            text NOT NULL REFERENCES tenants (tenant_id),
         operation_id         text NOT NULL REFERENCES operations (operation_id),
         kind                 text NOT NULL CHECK (kind IN ('deploy', 'rollback')),
         status               text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
         app                  text NOT NULL,
         definition           json NOT NULL,
         allow_destructive    boolean NOT NULL DEFAULT false,
         rollback_of          text REFERENCES deployments (deployment_id),
         release_id           text,
         previous_release_id  text,
         rolled_back          boolean NOT NULL DEFAULT false,
         migrations           jsonb NOT NULL DEFAULT '[]'::jsonb,
         error                text,
         requested_by         text NOT NULL,
         started_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
         ended_at             timestamptz
       )`,
      `CREATE INDEX deployments_by_tenant ON deployments (tenant_id, started_at DESC)`,
      `CREATE INDEX deployments_by_operation ON deployments (operation_id)`,
    ],
  },
  {
    version: 3,
    name: 'backups',
    statements: [
      // Per-tenant backups. Tenants are never deleted from the registry (DELETED is a status), so a
      // deleted tenant's backups stay listed, and so do those of an earlier tenant of the same id.
      `CREATE TABLE backups (
         backup_id     text PRIMARY KEY,
         tenant_id     text NOT NULL REFERENCES tenants (tenant_id),
         operation_id  text REFERENCES operations (operation_id),
         reason        text NOT NULL CHECK (reason IN ('manual', 'final')),
         location      text NOT NULL,
         app           text,
         entities      integer NOT NULL,
         rows          bigint NOT NULL,
         bytes         bigint NOT NULL,
         requested_by  text NOT NULL,
         created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
         expires_at    timestamptz
       )`,
      `CREATE INDEX backups_by_tenant ON backups (tenant_id, created_at DESC)`,
    ],
  },
  {
    version: 4,
    name: 'operation results',
    statements: [
      // What an operation gave when it succeeded (a backup's id, an export's key), shown by GET /operations/{id}.
      `ALTER TABLE operations ADD COLUMN result jsonb`,
    ],
  },
];

/** Arbitrary but fixed: serializes concurrent migrators on one server. */
const MIGRATION_LOCK_KEY = 72_010_001;

/** Applies the migrations not yet recorded, each in its own transaction; returns the versions applied. */
export async function migrateRegistry(sql: SqlPort, migrations: readonly Migration[] = REGISTRY_MIGRATIONS): Promise<number[]> {
  await sql.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version     integer PRIMARY KEY,
      name        text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now()
    )`);
  const applied: number[] = [];
  for (const migration of migrations) {
    const done = await sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(:key)', { key: MIGRATION_LOCK_KEY });
      const { rowCount } = await tx.query('SELECT 1 FROM schema_migrations WHERE version = :version', {
        version: migration.version,
      });
      if (rowCount > 0) return false;
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES (:version, :name)', {
        version: migration.version,
        name: migration.name,
      });
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}
