import { createHash } from 'node:crypto';
import { ValidationError } from '../domain/errors.js';
import type { AppDefinition, EntityDefinition, FieldDefinition, FieldType } from './app-definition-schema.js';
import { derivedName, quoteIdent, quoteLiteral } from './sql-text.js';

/**
 * Migrations derived by diffing the definition to deploy against the deployed one: the ordered
 * PostgreSQL statements that take the tenant's `app` schema from one to the other. Pure: the
 * Migrate step runs the statements and records each step's id.
 */

export type MigrationStepKind =
  | 'create-table'
  | 'add-foreign-key'
  | 'add-column'
  | 'change-type'
  | 'replace-foreign-key'
  | 'replace-check'
  | 'set-default'
  | 'drop-default'
  | 'fill-nulls'
  | 'set-not-null'
  | 'drop-not-null'
  | 'add-unique'
  | 'drop-unique'
  | 'create-index'
  | 'drop-index'
  | 'drop-column'
  | 'drop-foreign-key'
  | 'drop-table';

export interface MigrationStep {
  /**
   * Stable: a hash of the statement and of the definition it migrates from. The same plan
   * always has the same ids, so a recorded step is never applied twice; and a statement that
   * comes back after its object was dropped (add, drop, add again) is a new step.
   */
  readonly id: string;
  readonly kind: MigrationStepKind;
  readonly entity: string;
  readonly field?: string;
  /** Loses data or may fail on existing rows; only planned with `allowDestructive`. */
  readonly destructive: boolean;
  /** For a person: `add column book.isbn`. */
  readonly summary: string;
  /** One statement (the RDS Data API runs one per call). */
  readonly sql: string;
}

export interface MigrationPlan {
  readonly schema: string;
  /** {@link definitionFingerprint} of the deployed definition, or `null` for a first deploy. */
  readonly from: string | null;
  readonly to: string;
  readonly steps: readonly MigrationStep[];
  /** Whether any step is destructive (only possible with `allowDestructive`). */
  readonly destructive: boolean;
}

export interface MigrationOptions {
  readonly allowDestructive: boolean;
  /** @default 'app' (the schema each tenant's login owns) */
  readonly schema?: string;
}

/** The changes refused without `allowDestructive`, each as `entity.field: what; pass allowDestructive: true`. */
export class MigrationRefusedError extends ValidationError {
  readonly refused: readonly string[];
  constructor(refused: readonly { readonly where: string; readonly message: string }[]) {
    const formatted = refused.map(({ where, message }) => `${where}: ${message}`);
    const first = refused[0] ?? { where: 'definition', message: 'is refused' };
    super(first.where, [first.message, ...formatted.slice(1)].join('; '));
    this.refused = formatted;
  }
}

/** A stable digest of a parsed definition: the same definition always gives the same string. */
export function definitionFingerprint(definition: AppDefinition): string {
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex');
}

/** How each field type is stored. */
export const COLUMN_TYPES: Readonly<Record<FieldType, string>> = {
  string: 'varchar(255)',
  text: 'text',
  integer: 'bigint',
  number: 'double precision',
  boolean: 'boolean',
  timestamp: 'timestamptz',
  enum: 'text',
  reference: 'bigint',
};

const PASS = 'pass allowDestructive: true';

/**
 * Plans the migration from `deployed` (null: nothing deployed yet) to `next`. Additive changes
 * are planned; destructive or narrowing ones too when `allowDestructive` is set, and otherwise
 * refused, all of them at once, with a {@link MigrationRefusedError}.
 *
 * Order: new tables (referenced ones first; references in a loop are added once all exist),
 * then changes to kept tables, then dropped columns, then dropped tables (referring ones first).
 */
export function planMigration(
  deployed: AppDefinition | null,
  next: AppDefinition,
  { allowDestructive, schema = 'app' }: MigrationOptions,
): MigrationPlan {
  const from = deployed ? definitionFingerprint(deployed) : null;
  const planner = new Planner(schema, from ?? 'none', allowDestructive);
  const before = new Map((deployed?.entities ?? []).map((entity) => [entity.name, entity]));
  const after = new Map(next.entities.map((entity) => [entity.name, entity]));

  const created = next.entities.filter((entity) => !before.has(entity.name));
  const { order, deferred } = dependencyOrder(created);
  for (const entity of order) planner.createTable(entity, deferred);
  for (const entity of order) {
    for (const field of entity.fields) if (deferred.has(field)) planner.addForeignKey(entity, field);
  }

  for (const entity of next.entities) {
    const old = before.get(entity.name);
    if (!old) continue;
    const oldFields = new Map(old.fields.map((field) => [field.name, field]));
    for (const field of entity.fields) {
      const previous = oldFields.get(field.name);
      if (previous) planner.changeField(entity, previous, field);
      else planner.addField(entity, field);
    }
  }
  for (const entity of next.entities) {
    const old = before.get(entity.name);
    if (!old) continue;
    const kept = new Set(entity.fields.map((field) => field.name));
    for (const field of old.fields) if (!kept.has(field.name)) planner.dropField(entity, field);
  }

  const dropped = (deployed?.entities ?? []).filter((entity) => !after.has(entity.name));
  const drops = dependencyOrder(dropped);
  for (const entity of drops.order) {
    for (const field of entity.fields) if (drops.deferred.has(field)) planner.dropForeignKey(entity, field);
  }
  for (const entity of [...drops.order].reverse()) planner.dropTable(entity);

  if (planner.refused.length > 0) throw new MigrationRefusedError(planner.refused);
  return {
    schema,
    from,
    to: definitionFingerprint(next),
    steps: planner.steps,
    destructive: planner.steps.some((step) => step.destructive),
  };
}

/**
 * Entities so that each comes after the entities it refers to. A reference to an entity not
 * yet placed (a loop: `a` → `b` → `a`) is returned in `deferred`: its foreign key must be
 * added once both tables exist. References to itself or outside `entities` need no order.
 */
function dependencyOrder(entities: readonly EntityDefinition[]): {
  order: EntityDefinition[];
  deferred: Set<FieldDefinition>;
} {
  const byName = new Map(entities.map((entity) => [entity.name, entity]));
  const state = new Map<string, 'visiting' | 'done'>();
  const order: EntityDefinition[] = [];
  const deferred = new Set<FieldDefinition>();
  const visit = (entity: EntityDefinition) => {
    state.set(entity.name, 'visiting');
    for (const field of entity.fields) {
      if (field.type !== 'reference' || field.entity === entity.name) continue;
      const target = byName.get(field.entity);
      if (!target) continue;
      const seen = state.get(target.name);
      if (seen === 'visiting') deferred.add(field);
      else if (seen === undefined) visit(target);
    }
    state.set(entity.name, 'done');
    order.push(entity);
  };
  for (const entity of entities) if (!state.has(entity.name)) visit(entity);
  return { order, deferred };
}

interface Column {
  readonly sqlType: string;
  readonly notNull: boolean;
  readonly defaultSql: string | undefined;
  readonly unique: boolean;
  readonly enumValues: readonly string[] | undefined;
  readonly references: string | undefined;
  readonly indexed: boolean;
}

function columnOf(field: FieldDefinition): Column {
  return {
    sqlType: COLUMN_TYPES[field.type],
    notNull: field.required,
    defaultSql: defaultSql(field),
    unique: field.unique,
    enumValues: field.type === 'enum' ? field.values : undefined,
    references: field.type === 'reference' ? field.entity : undefined,
    // A unique constraint brings its own index.
    indexed: (field.index || field.type === 'reference') && !field.unique,
  };
}

function defaultSql(field: FieldDefinition): string | undefined {
  if (field.type === 'reference' || field.default === undefined) return undefined;
  switch (field.type) {
    case 'integer':
    case 'number':
      return String(field.default);
    case 'boolean':
      return field.default ? 'true' : 'false';
    case 'timestamp':
      return `${quoteLiteral(field.default)}::timestamptz`;
    default:
      return quoteLiteral(field.default);
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return a.length === b.length && b.every((value) => set.has(value));
}

const TEXTUAL: ReadonlySet<FieldType> = new Set(['string', 'text', 'enum']);
const NUMERIC: ReadonlySet<FieldType> = new Set(['integer', 'number', 'reference']);

/** How existing values convert on a type change; a value that cannot convert fails the statement. */
function conversion(column: string, from: FieldType, to: FieldType): string {
  if (TEXTUAL.has(to)) return `${column}::text`;
  const target = COLUMN_TYPES[to];
  if (TEXTUAL.has(from) || (NUMERIC.has(from) && NUMERIC.has(to))) return `${column}::${target}`;
  if (from === 'boolean' && NUMERIC.has(to)) return `${column}::integer::${target}`;
  if (NUMERIC.has(from) && to === 'boolean') return `${column} <> 0`;
  return `${column}::text::${target}`;
}

class Planner {
  readonly steps: MigrationStep[] = [];
  readonly refused: { where: string; message: string }[] = [];

  constructor(
    private readonly schema: string,
    private readonly from: string,
    private readonly allowDestructive: boolean,
  ) {
    quoteIdent(schema);
  }

  createTable(entity: EntityDefinition, deferred: ReadonlySet<FieldDefinition>): void {
    const lines = [
      `${quoteIdent('id')} bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`,
      `${quoteIdent('created_at')} timestamptz NOT NULL DEFAULT now()`,
      `${quoteIdent('updated_at')} timestamptz NOT NULL DEFAULT now()`,
      ...entity.fields.map((field) => this.columnDefinition(entity, field, { foreignKey: !deferred.has(field) })),
    ];
    this.add('create-table', entity, undefined, false, `create table ${entity.name}`,
      `CREATE TABLE IF NOT EXISTS ${this.table(entity.name)} (\n  ${lines.join(',\n  ')}\n)`);
    for (const field of entity.fields) if (columnOf(field).indexed) this.createIndex(entity, field);
  }

  addForeignKey(entity: EntityDefinition, field: FieldDefinition): void {
    this.add('add-foreign-key', entity, field, false, `add foreign key ${entity.name}.${field.name}`,
      `ALTER TABLE ${this.table(entity.name)} ${this.replaceForeignKey(entity, field)}`);
  }

  addField(entity: EntityDefinition, field: FieldDefinition): void {
    const fillsExistingRows = !field.required || defaultSql(field) !== undefined;
    if (!fillsExistingRows) {
      this.refuse(`${entity.name}.${field.name}`, 'a new required field without a default cannot be added to existing rows; give it a default or ' + PASS);
    }
    this.add('add-column', entity, field, !fillsExistingRows, `add column ${entity.name}.${field.name}`,
      `ALTER TABLE ${this.table(entity.name)} ADD COLUMN IF NOT EXISTS ${this.columnDefinition(entity, field, { foreignKey: true })}`);
    if (columnOf(field).indexed) this.createIndex(entity, field);
  }

  changeField(entity: EntityDefinition, before: FieldDefinition, after: FieldDefinition): void {
    const where = `${entity.name}.${after.name}`;
    const table = this.table(entity.name);
    const column = quoteIdent(after.name);
    const next = columnOf(after);
    let old = columnOf(before);

    if (before.type !== after.type) {
      this.refuse(where, `type change ${before.type} → ${after.type} is destructive; ${PASS}`);
      const actions = [
        ...(old.enumValues ? [`DROP CONSTRAINT IF EXISTS ${quoteIdent(this.checkName(entity, after))}`] : []),
        ...(old.references ? [`DROP CONSTRAINT IF EXISTS ${quoteIdent(this.foreignKeyName(entity, after))}`] : []),
        ...(old.defaultSql ? [`ALTER COLUMN ${column} DROP DEFAULT`] : []),
        ...(old.sqlType !== next.sqlType
          ? [`ALTER COLUMN ${column} TYPE ${next.sqlType} USING ${conversion(column, before.type, after.type)}`]
          : []),
      ];
      if (actions.length > 0) {
        this.add('change-type', entity, after, true, `change type of ${where} from ${before.type} to ${after.type}`,
          `ALTER TABLE ${table} ${actions.join(', ')}`);
      }
      old = { ...old, sqlType: next.sqlType, enumValues: undefined, references: undefined, defaultSql: undefined };
    }

    if (next.references && old.references !== next.references) {
      if (old.references) this.refuse(where, `reference change ${old.references} → ${next.references} is destructive; ${PASS}`);
      this.add(old.references ? 'replace-foreign-key' : 'add-foreign-key', entity, after, old.references !== undefined,
        `point ${where} at ${next.references}`, `ALTER TABLE ${table} ${this.replaceForeignKey(entity, after)}`);
    }

    if (next.enumValues && !(old.enumValues && sameSet(old.enumValues, next.enumValues))) {
      const removed = (old.enumValues ?? []).filter((value) => !next.enumValues?.includes(value));
      if (removed.length > 0) {
        this.refuse(where, `removing enum values ${removed.map((value) => JSON.stringify(value)).join(', ')} is destructive; ${PASS}`);
      }
      this.add('replace-check', entity, after, removed.length > 0, `allow values ${next.enumValues.join(', ')} in ${where}`,
        `ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${quoteIdent(this.checkName(entity, after))}, ADD ${this.checkConstraint(entity, after, next.enumValues)}`);
    }

    if (old.defaultSql !== next.defaultSql) {
      if (next.defaultSql) {
        this.add('set-default', entity, after, false, `set default of ${where}`,
          `ALTER TABLE ${table} ALTER COLUMN ${column} SET DEFAULT ${next.defaultSql}`);
      } else {
        this.add('drop-default', entity, after, false, `drop default of ${where}`,
          `ALTER TABLE ${table} ALTER COLUMN ${column} DROP DEFAULT`);
      }
    }

    if (!old.notNull && next.notNull) {
      if (next.defaultSql) {
        this.add('fill-nulls', entity, after, false, `fill empty ${where} with its default`,
          `UPDATE ${table} SET ${column} = ${next.defaultSql} WHERE ${column} IS NULL`);
      } else {
        this.refuse(where, `nullable → required without a default is destructive (existing rows may be empty); ${PASS}`);
      }
      this.add('set-not-null', entity, after, !next.defaultSql, `make ${where} required`,
        `ALTER TABLE ${table} ALTER COLUMN ${column} SET NOT NULL`);
    } else if (old.notNull && !next.notNull) {
      this.add('drop-not-null', entity, after, false, `make ${where} optional`,
        `ALTER TABLE ${table} ALTER COLUMN ${column} DROP NOT NULL`);
    }

    const unique = quoteIdent(this.uniqueName(entity, after));
    if (!old.unique && next.unique) {
      this.refuse(where, `making the field unique is narrowing (existing rows may repeat a value); ${PASS}`);
      this.add('add-unique', entity, after, true, `make ${where} unique`,
        `ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${unique}, ADD CONSTRAINT ${unique} UNIQUE (${column})`);
    } else if (old.unique && !next.unique) {
      this.add('drop-unique', entity, after, false, `let ${where} repeat`,
        `ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${unique}`);
    }

    if (!old.indexed && next.indexed) this.createIndex(entity, after);
    else if (old.indexed && !next.indexed) {
      this.add('drop-index', entity, after, false, `drop index on ${where}`,
        `DROP INDEX IF EXISTS ${quoteIdent(this.schema)}.${quoteIdent(this.indexName(entity, after))}`);
    }
  }

  dropField(entity: EntityDefinition, field: FieldDefinition): void {
    const where = `${entity.name}.${field.name}`;
    this.refuse(where, `dropping the field deletes its data (a rename counts as a drop and an add); ${PASS}`);
    this.add('drop-column', entity, field, true, `drop column ${where}`,
      `ALTER TABLE ${this.table(entity.name)} DROP COLUMN IF EXISTS ${quoteIdent(field.name)}`);
  }

  dropForeignKey(entity: EntityDefinition, field: FieldDefinition): void {
    this.add('drop-foreign-key', entity, field, true, `drop foreign key ${entity.name}.${field.name}`,
      `ALTER TABLE IF EXISTS ${this.table(entity.name)} DROP CONSTRAINT IF EXISTS ${quoteIdent(this.foreignKeyName(entity, field))}`);
  }

  dropTable(entity: EntityDefinition): void {
    this.refuse(entity.name, `dropping the entity deletes its table and every row (a rename counts as a drop and an add); ${PASS}`);
    this.add('drop-table', entity, undefined, true, `drop table ${entity.name}`, `DROP TABLE IF EXISTS ${this.table(entity.name)}`);
  }

  private createIndex(entity: EntityDefinition, field: FieldDefinition): void {
    this.add('create-index', entity, field, false, `index ${entity.name}.${field.name}`,
      `CREATE INDEX IF NOT EXISTS ${quoteIdent(this.indexName(entity, field))} ON ${this.table(entity.name)} (${quoteIdent(field.name)})`);
  }

  private columnDefinition(entity: EntityDefinition, field: FieldDefinition, { foreignKey }: { foreignKey: boolean }): string {
    const column = columnOf(field);
    return [
      quoteIdent(field.name),
      column.sqlType,
      ...(column.notNull ? ['NOT NULL'] : []),
      ...(column.defaultSql ? [`DEFAULT ${column.defaultSql}`] : []),
      ...(column.unique ? [`CONSTRAINT ${quoteIdent(this.uniqueName(entity, field))} UNIQUE`] : []),
      ...(column.enumValues ? [this.checkConstraint(entity, field, column.enumValues)] : []),
      ...(column.references && foreignKey
        ? [`CONSTRAINT ${quoteIdent(this.foreignKeyName(entity, field))} REFERENCES ${this.table(column.references)} (${quoteIdent('id')}) ON DELETE RESTRICT`]
        : []),
    ].join(' ');
  }

  private checkConstraint(entity: EntityDefinition, field: FieldDefinition, values: readonly string[]): string {
    return `CONSTRAINT ${quoteIdent(this.checkName(entity, field))} CHECK (${quoteIdent(field.name)} IN (${values.map(quoteLiteral).join(', ')}))`;
  }

  private replaceForeignKey(entity: EntityDefinition, field: FieldDefinition): string {
    if (field.type !== 'reference') throw new Error(`${entity.name}.${field.name} is not a reference`);
    const name = quoteIdent(this.foreignKeyName(entity, field));
    return `DROP CONSTRAINT IF EXISTS ${name}, ADD CONSTRAINT ${name} FOREIGN KEY (${quoteIdent(field.name)}) REFERENCES ${this.table(field.entity)} (${quoteIdent('id')}) ON DELETE RESTRICT`;
  }

  private table(name: string): string {
    return `${quoteIdent(this.schema)}.${quoteIdent(name)}`;
  }

  private uniqueName = (entity: EntityDefinition, field: FieldDefinition) => derivedName([entity.name, field.name], 'key');
  private checkName = (entity: EntityDefinition, field: FieldDefinition) => derivedName([entity.name, field.name], 'check');
  private foreignKeyName = (entity: EntityDefinition, field: FieldDefinition) => derivedName([entity.name, field.name], 'fkey');
  private indexName = (entity: EntityDefinition, field: FieldDefinition) => derivedName([entity.name, field.name], 'idx');

  private refuse(where: string, message: string): void {
    if (!this.allowDestructive) this.refused.push({ where, message });
  }

  private add(
    kind: MigrationStepKind,
    entity: EntityDefinition,
    field: FieldDefinition | undefined,
    destructive: boolean,
    summary: string,
    sql: string,
  ): void {
    const id = createHash('sha256').update(`${this.from}\n${sql}`).digest('hex').slice(0, 32);
    this.steps.push({ id, kind, entity: entity.name, ...(field ? { field: field.name } : {}), destructive, summary, sql });
  }
}
