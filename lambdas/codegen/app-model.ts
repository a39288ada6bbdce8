import { createHash } from 'node:crypto';
import { APP_DEFINITION_LIMITS, type AppDefinition, type FieldDefinition, type FieldType } from '../app-definition/app-definition-schema.js';
import { derivedName, quoteIdent } from '../app-definition/sql-text.js';

/**
 * The app model: what the generated backend and front end know of a definition, as plain data.
 * The generated `src/model.ts` is this object; the generated `src/types.ts` declares the same
 * shape (keep the two in step: the codegen tests type-check the generated sources).
 *
 * Every SQL identifier here is already quoted by {@link quoteIdent} and the constraint names
 * are derived exactly as `planMigration` derives them, so the app can tell which field a
 * database error is about. Nothing a request carries ever becomes SQL text: requests only pick
 * among these pre-quoted names.
 */

export interface FieldModel {
  readonly name: string;
  readonly type: FieldType;
  /** Quoted column name (`"title"`). */
  readonly column: string;
  readonly required: boolean;
  /** The database fills it when a create leaves it out. */
  readonly hasDefault: boolean;
  readonly unique: boolean;
  /** `string` fields: the most characters a value may have. */
  readonly maxLength?: number;
  /** `enum` fields: the allowed values. */
  readonly values?: readonly string[];
  /** `reference` fields: the entity referred to. */
  readonly entity?: string;
}

export interface ConstraintModel {
  readonly field: string;
  readonly kind: 'unique' | 'check' | 'foreign-key';
}

export interface ReferrerModel {
  /** The entity and field whose foreign key points at this entity. */
  readonly entity: string;
  readonly field: string;
}

export interface EntityModel {
  readonly name: string;
  /** Quoted, schema-qualified table (`"app"."book"`). */
  readonly table: string;
  /** The quoted select list, in output order: id, the fields, created_at, updated_at. */
  readonly columns: string;
  readonly fields: readonly FieldModel[];
  /** This table's constraint names → the field each guards. */
  readonly constraints: Readonly<Record<string, ConstraintModel>>;
  /** Foreign keys of other tables that point here (a delete may break them) → who holds them. */
  readonly referrers: Readonly<Record<string, ReferrerModel>>;
}

export interface AppModel {
  /** The definition's name, shown by `/version` and the front end. */
  readonly app: string;
  readonly schema: string;
  /** A digest of the rest of the model: cache keys carry it, so releases never share stale shapes. */
  readonly tag: string;
  readonly entities: readonly EntityModel[];
}

export interface AppModelOptions {
  /** The schema the tables live in; the same as `planMigration`'s. @default 'app' */
  readonly schema?: string;
}

function hasDefault(field: FieldDefinition): boolean {
  return 'default' in field && field.default !== undefined;
}

function fieldModel(field: FieldDefinition): FieldModel {
  return {
    name: field.name,
    type: field.type,
    column: quoteIdent(field.name),
    required: field.required,
    hasDefault: hasDefault(field),
    unique: field.unique,
    ...(field.type === 'string' ? { maxLength: APP_DEFINITION_LIMITS.maxStringLength } : {}),
    ...(field.type === 'enum' ? { values: [...field.values] } : {}),
    ...(field.type === 'reference' ? { entity: field.entity } : {}),
  };
}

/** Builds the model of a parsed definition. Deterministic: the same definition, the same model. */
export function buildAppModel(definition: AppDefinition, { schema = 'app' }: AppModelOptions = {}): AppModel {
  const quotedSchema = quoteIdent(schema);
  const referrers = new Map<string, Record<string, ReferrerModel>>(definition.entities.map((entity) => [entity.name, {}]));
  for (const entity of definition.entities) {
    for (const field of entity.fields) {
      if (field.type !== 'reference') continue;
      const target = referrers.get(field.entity);
      if (target) target[derivedName([entity.name, field.name], 'fkey')] = { entity: entity.name, field: field.name };
    }
  }

  const entities = definition.entities.map((entity): EntityModel => {
    const constraints: Record<string, ConstraintModel> = {};
    for (const field of entity.fields) {
      if (field.unique) constraints[derivedName([entity.name, field.name], 'key')] = { field: field.name, kind: 'unique' };
      if (field.type === 'enum') constraints[derivedName([entity.name, field.name], 'check')] = { field: field.name, kind: 'check' };
      if (field.type === 'reference') constraints[derivedName([entity.name, field.name], 'fkey')] = { field: field.name, kind: 'foreign-key' };
    }
    const columns = ['id', ...entity.fields.map((field) => field.name), 'created_at', 'updated_at'].map(quoteIdent).join(', ');
    return {
      name: entity.name,
      table: `${quotedSchema}.${quoteIdent(entity.name)}`,
      columns,
      fields: entity.fields.map(fieldModel),
      constraints,
      referrers: referrers.get(entity.name) ?? {},
    };
  });

  const tag = createHash('sha256').update(JSON.stringify({ schema, entities })).digest('hex').slice(0, 12);
  return { app: definition.name, schema, tag, entities };
}
