import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { isReservedSqlWord } from './reserved-words.js';

/**
 * The app definition: the JSON document a tenant writes to describe its app, and the contract
 * codegen and migrations read. Untrusted input: every identifier in it ends up in SQL and in
 * URLs, so it is checked here, once, before anything else sees it.
 */

export const FIELD_TYPES = ['string', 'text', 'integer', 'number', 'boolean', 'timestamp', 'enum', 'reference'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const APP_DEFINITION_LIMITS = {
  /** Of the document as UTF-8 JSON. */
  maxDocumentBytes: 256 * 1024,
  maxAppNameLength: 80,
  maxEntities: 50,
  maxFieldsPerEntity: 100,
  maxIdentifierLength: 40,
  maxEnumValues: 100,
  maxEnumValueLength: 100,
  /** A `string` field holds at most this many characters (a `text` field is unbounded). */
  maxStringLength: 255,
} as const;

/** Columns every table gets from the platform; no field may take their names. */
export const PLATFORM_COLUMNS: ReadonlySet<string> = new Set(['id', 'created_at', 'updated_at']);

interface FieldCommon {
  readonly name: string;
  readonly required: boolean;
  readonly unique: boolean;
  /** A plain index for filtering (a reference is always indexed, a unique field already is). */
  readonly index: boolean;
}
export interface StringField extends FieldCommon {
  readonly type: 'string' | 'text';
  readonly default?: string;
}
export interface NumberField extends FieldCommon {
  readonly type: 'integer' | 'number';
  readonly default?: number;
}
export interface BooleanField extends FieldCommon {
  readonly type: 'boolean';
  readonly default?: boolean;
}
export interface TimestampField extends FieldCommon {
  readonly type: 'timestamp';
  /** An ISO 8601 timestamp with a zone (`2024-01-31T12:00:00Z`). */
  readonly default?: string;
}
export interface EnumField extends FieldCommon {
  readonly type: 'enum';
  readonly values: readonly string[];
  readonly default?: string;
}
export interface ReferenceField extends FieldCommon {
  readonly type: 'reference';
  /** The name of the entity referred to; the column holds that row's `id`. */
  readonly entity: string;
}
export type FieldDefinition = StringField | NumberField | BooleanField | TimestampField | EnumField | ReferenceField;

export interface EntityDefinition {
  readonly name: string;
  readonly fields: readonly FieldDefinition[];
}

/** A definition that passed {@link parseAppDefinition}; flags are explicit (`false` when left out). */
export interface AppDefinition {
  readonly name: string;
  readonly entities: readonly EntityDefinition[];
}

export type IssuePath = readonly PropertyKey[];

export interface AppDefinitionProblem {
  /** As written in messages: `entities[1].fields[0].type`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** Every violation in a definition, each as `path: message`. `field` is the first one's path. */
export class AppDefinitionError extends ValidationError {
  readonly problems: readonly string[];
  constructor(problems: readonly AppDefinitionProblem[]) {
    const formatted = problems.map(formatProblem);
    const first = problems[0] ?? { path: '', message: 'is invalid' };
    super(first.path || ROOT, [first.message, ...formatted.slice(1)].join('; '));
    this.problems = formatted.length > 0 ? formatted : [formatProblem(first)];
  }
}

const ROOT = 'definition';

function formatProblem(problem: AppDefinitionProblem): string {
  return `${problem.path || ROOT}: ${problem.message}`;
}

/** Turns a zod path into the form users read: `entities[1].fields[0].type`. */
export function formatIssuePath(path: IssuePath): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) text += text ? `.${key}` : key;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text;
}

/** Why `name` cannot name an entity or a field, or `undefined` when it can. */
export function identifierProblem(name: string, kind: 'entity' | 'field'): string | undefined {
  const max = APP_DEFINITION_LIMITS.maxIdentifierLength;
  if (name.length === 0 || name.length > max) return `must be 1 to ${max} characters`;
  if (!/^[a-z0-9_]+$/.test(name)) return 'may contain only lowercase letters, digits and underscores';
  if (!/^[a-z]/.test(name)) return 'must start with a lowercase letter';
  if (kind === 'field' && PLATFORM_COLUMNS.has(name)) return `"${name}" is added by the platform to every entity`;
  if (isReservedSqlWord(name)) return `"${name}" is a reserved SQL word`;
  return undefined;
}

function identifierSchema(kind: 'entity' | 'field') {
  return z.string().superRefine((name, ctx) => {
    const problem = identifierProblem(name, kind);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** C0 and C1 controls, DEL, and the line and paragraph separators (U+2028/9 end a line in JavaScript source). */
function hasControlCharacters(text: string): boolean {
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029) return true;
  }
  return false;
}

function isFieldType(type: string): type is FieldType {
  return (FIELD_TYPES as readonly string[]).includes(type);
}

const L = APP_DEFINITION_LIMITS;

const enumValueSchema = z
  .string()
  .min(1, `must be 1 to ${L.maxEnumValueLength} characters`)
  .max(L.maxEnumValueLength, `must be 1 to ${L.maxEnumValueLength} characters`)
  .refine((value) => !hasControlCharacters(value), 'must not contain control characters');

/** The shape of one field as written; rules between its properties are checked in {@link crossCheck}. */
const fieldInputSchema = z.strictObject({
  name: identifierSchema('field'),
  type: z.string().refine(isFieldType, { error: (issue) => `unknown type ${JSON.stringify(issue.input)}` }),
  required: z.boolean().optional(),
  unique: z.boolean().optional(),
  index: z.boolean().optional(),
  default: z.unknown().optional(),
  values: z
    .array(enumValueSchema)
    .min(1, 'must list at least one value')
    .max(L.maxEnumValues, `must have at most ${L.maxEnumValues} values`)
    .optional(),
  entity: z.string().optional(),
});

type FieldInput = z.output<typeof fieldInputSchema>;

function toFieldDefinition(input: FieldInput): FieldDefinition {
  const name = input.name;
  const flags = { required: input.required ?? false, unique: input.unique ?? false, index: input.index ?? false };
  const value = input.default;
  const type = input.type as FieldType;
  switch (type) {
    case 'string':
    case 'text':
      return { name, type, ...flags, ...(typeof value === 'string' ? { default: value } : {}) };
    case 'integer':
    case 'number':
      return { name, type, ...flags, ...(typeof value === 'number' ? { default: value } : {}) };
    case 'boolean':
      return { name, type, ...flags, ...(typeof value === 'boolean' ? { default: value } : {}) };
    case 'timestamp':
      return { name, type, ...flags, ...(typeof value === 'string' ? { default: value } : {}) };
    case 'enum':
      return {
        name,
        type,
        ...flags,
        values: input.values ?? [],
        ...(typeof value === 'string' ? { default: value } : {}),
      };
    case 'reference':
      return { name, type, ...flags, entity: input.entity ?? '' };
  }
}

const entitySchema = z.strictObject({
  name: identifierSchema('entity'),
  fields: z
    .array(fieldInputSchema.transform(toFieldDefinition))
    .min(1, 'must have at least one field')
    .max(L.maxFieldsPerEntity, `must have at most ${L.maxFieldsPerEntity} fields`),
});

/** The structure of a definition. {@link parseAppDefinition} adds the rules that span properties and entities. */
export const appDefinitionSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, `must be 1 to ${L.maxAppNameLength} characters`)
    .max(L.maxAppNameLength, `must be 1 to ${L.maxAppNameLength} characters`)
    .refine((name) => !hasControlCharacters(name), 'must not contain control characters'),
  entities: z
    .array(entitySchema)
    .min(1, 'must have at least one entity')
    .max(L.maxEntities, `must have at most ${L.maxEntities} entities`),
});

/**
 * Validates an app definition (a parsed JSON value, or its JSON text) and returns it with its
 * flags made explicit. Throws an {@link AppDefinitionError} listing every violation found.
 */
export function parseAppDefinition(json: unknown): AppDefinition {
  const document = readDocument(json);
  if ('problem' in document) throw new AppDefinitionError([{ path: '', message: document.problem }]);

  const result = appDefinitionSchema.safeParse(document.value, { error: genericMessage });
  const found: { path: IssuePath; message: string }[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) found.push({ path: issue.path, message: `unknown property ${JSON.stringify(key)}` });
      } else {
        found.push({ path: issue.path, message: issue.message });
      }
    }
  }
  found.push(...crossCheck(document.value));
  if (found.length > 0) throw new AppDefinitionError(inDocumentOrder(found));
  if (!result.success) throw new AppDefinitionError([{ path: '', message: 'is invalid' }]);
  return result.data;
}

function readDocument(json: unknown): { value: unknown } | { problem: string } {
  const max = L.maxDocumentBytes;
  let text: string | undefined;
  let value = json;
  if (typeof json === 'string') {
    text = json;
  } else {
    try {
      text = JSON.stringify(json);
    } catch {
      return { problem: 'is not a JSON document' };
    }
  }
  if (text === undefined) return { problem: 'must be an object' };
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > max) return { problem: `is ${bytes} bytes of JSON, more than the ${max} allowed` };
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json) as unknown;
    } catch {
      return { problem: 'is not valid JSON' };
    }
  }
  return { value };
}

const ARTICLES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
};

/** Messages for the issues zod raises itself; our own schemas carry their messages. */
function genericMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'is required';
  return `must be ${ARTICLES[issue.expected] ?? issue.expected}`;
}

/** Sorts problems by where they are in the document (entity, then field, then value); stable otherwise. */
function inDocumentOrder(found: readonly { path: IssuePath; message: string }[]): AppDefinitionProblem[] {
  const position = (path: IssuePath) => path.filter((key): key is number => typeof key === 'number');
  const compare = (a: number[], b: number[]) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  };
  const seen = new Set<string>();
  return [...found]
    .map((problem, order) => ({ ...problem, order, at: position(problem.path) }))
    .sort((a, b) => compare(a.at, b.at) || a.order - b.order)
    .map((problem) => ({ path: formatIssuePath(problem.path), message: problem.message }))
    .filter((problem) => {
      const key = formatProblem(problem);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

type JsonObject = Readonly<Record<string, unknown>>;

function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * The rules that span properties, fields and entities: names unique in their scope, references
 * that resolve, properties that belong to the field's type, defaults of the field's type. Reads
 * the raw document defensively, so it reports alongside zod's structural issues rather than
 * after them.
 */
function crossCheck(document: unknown): { path: IssuePath; message: string }[] {
  const found: { path: IssuePath; message: string }[] = [];
  const report = (path: IssuePath, message: string) => found.push({ path, message });
  if (!isRecord(document)) return found;

  const entities = list(document.entities);
  const entityIndex = new Map<string, number>();
  entities.forEach((entity, i) => {
    if (!isRecord(entity) || typeof entity.name !== 'string') return;
    const first = entityIndex.get(entity.name);
    if (first === undefined) entityIndex.set(entity.name, i);
    else report(['entities', i, 'name'], `duplicate entity name ${JSON.stringify(entity.name)} (also entities[${first}])`);
  });

  entities.forEach((entity, i) => {
    if (!isRecord(entity)) return;
    const fieldIndex = new Map<string, number>();
    list(entity.fields).forEach((field, j) => {
      if (!isRecord(field)) return;
      const at = (...rest: PropertyKey[]): IssuePath => ['entities', i, 'fields', j, ...rest];
      if (typeof field.name === 'string') {
        const first = fieldIndex.get(field.name);
        if (first === undefined) fieldIndex.set(field.name, j);
        else report(at('name'), `duplicate field name ${JSON.stringify(field.name)} (also fields[${first}])`);
      }
      if (typeof field.type !== 'string' || !isFieldType(field.type)) return;
      const type = field.type;

      if (type === 'enum' && field.values === undefined) report(at('values'), 'is required for an enum field');
      if (type !== 'enum' && field.values !== undefined) report(at('values'), 'is only allowed on an enum field');
      if (type === 'reference' && field.entity === undefined) report(at('entity'), 'is required for a reference field');
      if (type !== 'reference' && field.entity !== undefined) report(at('entity'), 'is only allowed on a reference field');
      if (type === 'reference' && typeof field.entity === 'string' && !entityIndex.has(field.entity)) {
        report(at('entity'), `unknown entity ${JSON.stringify(field.entity)}`);
      }
      if (type === 'enum') {
        const seen = new Set<string>();
        list(field.values).forEach((value, k) => {
          if (typeof value !== 'string') return;
          if (seen.has(value)) report(at('values', k), `duplicate value ${JSON.stringify(value)}`);
          seen.add(value);
        });
      }
      if (type === 'text') {
        for (const flag of ['unique', 'index'] as const) {
          if (field[flag] === true) report(at(flag), 'a text field cannot be unique or indexed; use a string field');
        }
      }
      if (field.default !== undefined) {
        const problem = field.unique === true ? 'a unique field cannot have a default (every row would share it)' : defaultProblem(type, field.default, field.values);
        if (problem) report(at('default'), problem);
      }
    });
  });

  found.push(...requiredReferenceCycles(entities, entityIndex));
  return found;
}

function defaultProblem(type: FieldType, value: unknown, values: unknown): string | undefined {
  if (value === null) return 'must not be null (leave it out for no default)';
  switch (type) {
    case 'string':
    case 'text':
      if (typeof value !== 'string') return 'must be a string';
      if (type === 'string' && value.length > L.maxStringLength) return `must be at most ${L.maxStringLength} characters`;
      return undefined;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer';
      if (!Number.isSafeInteger(value)) return `must be between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`;
      return undefined;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'timestamp':
      return typeof value === 'string' && z.iso.datetime({ offset: true }).safeParse(value).success
        ? undefined
        : 'must be an ISO 8601 timestamp with a zone, like "2024-01-31T12:00:00Z"';
    case 'enum':
      if (typeof value !== 'string') return 'must be one of the values';
      if (Array.isArray(values) && !values.includes(value)) return `${JSON.stringify(value)} is not one of the values`;
      return undefined;
    case 'reference':
      return 'a reference field cannot have a default';
  }
}

/**
 * Required references that loop back (`a.b` requires a `b`, `b.a` requires an `a`, or an entity
 * requiring itself) would make every insert fail: no first row could ever be written.
 */
function requiredReferenceCycles(entities: readonly unknown[], entityIndex: ReadonlyMap<string, number>) {
  const edges = new Map<string, { target: string; path: IssuePath; field: string }[]>();
  entities.forEach((entity, i) => {
    if (!isRecord(entity) || typeof entity.name !== 'string' || entityIndex.get(entity.name) !== i) return;
    const out: { target: string; path: IssuePath; field: string }[] = [];
    list(entity.fields).forEach((field, j) => {
      if (!isRecord(field) || field.type !== 'reference' || field.required !== true) return;
      if (typeof field.entity !== 'string' || !entityIndex.has(field.entity) || typeof field.name !== 'string') return;
      out.push({ target: field.entity, path: ['entities', i, 'fields', j, 'entity'], field: field.name });
    });
    edges.set(entity.name, out);
  });

  /** The entities on a shortest chain of required references from `from` to `to`, or undefined. */
  const chain = (from: string, to: string): string[] | undefined => {
    const previous = new Map<string, string>([[from, from]]);
    const queue = [from];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (next === to) {
        const names = [to];
        for (let at = to; at !== from; at = previous.get(at)!) names.unshift(previous.get(at)!);
        return names;
      }
      for (const edge of edges.get(next) ?? []) {
        if (!previous.has(edge.target)) {
          previous.set(edge.target, next);
          queue.push(edge.target);
        }
      }
    }
    return undefined;
  };

  const found: { path: IssuePath; message: string }[] = [];
  for (const [source, out] of edges) {
    for (const edge of out) {
      const back = chain(edge.target, source);
      if (!back) continue;
      const loop = [source, ...back].join(' → ');
      found.push({
        path: edge.path,
        message: `required references form a loop (${loop}), so no first row could be inserted; make one of them optional`,
      });
    }
  }
  return found;
}
