import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  APP_DEFINITION_LIMITS,
  AppDefinitionError,
  formatIssuePath,
  parseAppDefinition,
} from '../../lambdas/app-definition/app-definition-schema.js';
import { ValidationError } from '../../lambdas/domain/errors.js';

const example = (name: string) =>
  readFileSync(new URL(`../../lambdas/app-definition/examples/${name}.json`, import.meta.url), 'utf8');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** The issue's Bookshop, as a fresh object each time, for a test to break one thing in. */
const bookshop = (): JsonObject => JSON.parse(example('bookshop')) as JsonObject;

/** A definition of one entity `thing` with the given fields. */
const withFields = (...fields: JsonObject[]): JsonObject => ({ name: 'Things', entities: [{ name: 'thing', fields }] });

/** The problems `parseAppDefinition` reports for `document`, or [] when it passes. */
function problems(document: unknown): readonly string[] {
  try {
    parseAppDefinition(document);
    return [];
  } catch (error) {
    if (error instanceof AppDefinitionError) return error.problems;
    throw error;
  }
}

describe('parseAppDefinition', () => {
  it('accepts the Bookshop example of the issue and makes its flags explicit', () => {
    const definition = parseAppDefinition(JSON.parse(example('bookshop')));

    expect(definition).toEqual({
      name: 'Bookshop',
      entities: [
        {
          name: 'book',
          fields: [
            { name: 'title', type: 'string', required: true, unique: false, index: false },
            { name: 'pages', type: 'integer', required: false, unique: false, index: false },
            { name: 'published', type: 'boolean', required: false, unique: false, index: false, default: false },
          ],
        },
        {
          name: 'review',
          fields: [
            { name: 'book', type: 'reference', entity: 'book', required: true, unique: false, index: false },
            { name: 'stars', type: 'integer', required: true, unique: false, index: false },
          ],
        },
      ],
    });
  });

  it('accepts the JSON text as well as the parsed value', () => {
    expect(parseAppDefinition(example('bookshop'))).toEqual(parseAppDefinition(bookshop()));
  });

  it('accepts the starter definition', () => {
    const starter = parseAppDefinition(example('starter'));

    expect(starter.entities.map((entity) => entity.name)).toEqual(['note']);
    expect(starter.entities[0]!.fields).toEqual([
      { name: 'title', type: 'string', required: true, unique: false, index: false },
      { name: 'body', type: 'text', required: false, unique: false, index: false },
    ]);
  });

  it('accepts every field type with a default of its own type, indexes, and optional reference loops', () => {
    const document: JsonObject = {
      name: 'Everything',
      entities: [
        {
          name: 'employee',
          fields: [
            { name: 'name', type: 'string', required: true, default: 'anonymous', index: true },
            { name: 'bio', type: 'text', default: "it's me" },
            { name: 'age', type: 'integer', default: -3 },
            { name: 'score', type: 'number', default: 0.5 },
            { name: 'active', type: 'boolean', default: true },
            { name: 'hired', type: 'timestamp', default: '2024-01-31T12:00:00Z' },
            { name: 'level', type: 'enum', values: ['junior', 'senior', 'In progress'], default: 'junior' },
            { name: 'badge', type: 'string', unique: true },
            { name: 'manager', type: 'reference', entity: 'employee' },
            { name: 'team', type: 'reference', entity: 'team', required: true },
          ],
        },
        { name: 'team', fields: [{ name: 'lead', type: 'reference', entity: 'employee' }] },
      ],
    };

    expect(problems(document)).toEqual([]);
  });

  it.each<[string, JsonObject, string]>([
    ['an unknown type', withFields({ name: 'a', type: 'strng' }), 'entities[0].fields[0].type: unknown type "strng"'],
    ['a type that is not a string', withFields({ name: 'a', type: 3 }), 'entities[0].fields[0].type: must be a string'],
    ['a missing type', withFields({ name: 'a' }), 'entities[0].fields[0].type: is required'],
    ['a missing field name', withFields({ type: 'string' }), 'entities[0].fields[0].name: is required'],
    ['an unknown property', withFields({ name: 'a', type: 'string', requred: true }), 'entities[0].fields[0]: unknown property "requred"'],
    ['a flag that is not a boolean', withFields({ name: 'a', type: 'string', required: 'yes' }), 'entities[0].fields[0].required: must be true or false'],
    ['an upper-case name', withFields({ name: 'Title', type: 'string' }), 'entities[0].fields[0].name: may contain only lowercase letters, digits and underscores'],
    ['a hyphen in a name', withFields({ name: 'first-name', type: 'string' }), 'entities[0].fields[0].name: may contain only lowercase letters, digits and underscores'],
    ['a quote in a name', withFields({ name: 'a"; drop table x; --', type: 'string' }), 'entities[0].fields[0].name: may contain only lowercase letters, digits and underscores'],
    ['a name starting with a digit', withFields({ name: '1st', type: 'string' }), 'entities[0].fields[0].name: must start with a lowercase letter'],
    ['a name starting with an underscore', withFields({ name: '_x', type: 'string' }), 'entities[0].fields[0].name: must start with a lowercase letter'],
    ['an empty name', withFields({ name: '', type: 'string' }), 'entities[0].fields[0].name: must be 1 to 40 characters'],
    ['a name too long', withFields({ name: 'x'.repeat(41), type: 'string' }), 'entities[0].fields[0].name: must be 1 to 40 characters'],
    ['the reserved word select', withFields({ name: 'select', type: 'string' }), 'entities[0].fields[0].name: "select" is a reserved SQL word'],
    ['the reserved word order', withFields({ name: 'order', type: 'integer' }), 'entities[0].fields[0].name: "order" is a reserved SQL word'],
    ['the platform column id', withFields({ name: 'id', type: 'integer' }), 'entities[0].fields[0].name: "id" is added by the platform to every entity'],
    ['the platform column created_at', withFields({ name: 'created_at', type: 'timestamp' }), 'entities[0].fields[0].name: "created_at" is added by the platform to every entity'],
    ['the platform column updated_at', withFields({ name: 'updated_at', type: 'timestamp' }), 'entities[0].fields[0].name: "updated_at" is added by the platform to every entity'],
    ['an enum without values', withFields({ name: 'a', type: 'enum' }), 'entities[0].fields[0].values: is required for an enum field'],
    ['an enum with no values', withFields({ name: 'a', type: 'enum', values: [] }), 'entities[0].fields[0].values: must list at least one value'],
    ['an enum value repeated', withFields({ name: 'a', type: 'enum', values: ['x', 'y', 'x'] }), 'entities[0].fields[0].values[2]: duplicate value "x"'],
    ['an empty enum value', withFields({ name: 'a', type: 'enum', values: ['x', ''] }), 'entities[0].fields[0].values[1]: must be 1 to 100 characters'],
    ['a control character in an enum value', withFields({ name: 'a', type: 'enum', values: ['x\ny'] }), 'entities[0].fields[0].values[0]: must not contain control characters'],
    ['a line separator in an enum value', withFields({ name: 'a', type: 'enum', values: ['x\u2028y'] }), 'entities[0].fields[0].values[0]: must not contain control characters'],
    ['values on a string', withFields({ name: 'a', type: 'string', values: ['x'] }), 'entities[0].fields[0].values: is only allowed on an enum field'],
    ['a reference without entity', withFields({ name: 'a', type: 'reference' }), 'entities[0].fields[0].entity: is required for a reference field'],
    ['entity on an integer', withFields({ name: 'a', type: 'integer', entity: 'thing' }), 'entities[0].fields[0].entity: is only allowed on a reference field'],
    ['a reference to an unknown entity', withFields({ name: 'a', type: 'reference', entity: 'author' }), 'entities[0].fields[0].entity: unknown entity "author"'],
    ['a default on a reference', withFields({ name: 'a', type: 'reference', entity: 'thing', default: 1 }), 'entities[0].fields[0].default: a reference field cannot have a default'],
    ['a number default on a string', withFields({ name: 'a', type: 'string', default: 5 }), 'entities[0].fields[0].default: must be a string'],
    ['a string default too long', withFields({ name: 'a', type: 'string', default: 'x'.repeat(256) }), 'entities[0].fields[0].default: must be at most 255 characters'],
    ['a fraction default on an integer', withFields({ name: 'a', type: 'integer', default: 1.5 }), 'entities[0].fields[0].default: must be an integer'],
    ['an unsafe integer default', withFields({ name: 'a', type: 'integer', default: 2 ** 60 }), 'entities[0].fields[0].default: must be between -9007199254740991 and 9007199254740991'],
    ['a string default on a number', withFields({ name: 'a', type: 'number', default: '1' }), 'entities[0].fields[0].default: must be a number'],
    ['a string default on a boolean', withFields({ name: 'a', type: 'boolean', default: 'false' }), 'entities[0].fields[0].default: must be true or false'],
    ['a timestamp default that is no timestamp', withFields({ name: 'a', type: 'timestamp', default: 'yesterday' }), 'entities[0].fields[0].default: must be an ISO 8601 timestamp with a zone, like "2024-01-31T12:00:00Z"'],
    ['an enum default not among the values', withFields({ name: 'a', type: 'enum', values: ['x'], default: 'y' }), 'entities[0].fields[0].default: "y" is not one of the values'],
    ['a null default', withFields({ name: 'a', type: 'string', default: null }), 'entities[0].fields[0].default: must not be null (leave it out for no default)'],
    ['a default on a unique field', withFields({ name: 'a', type: 'string', unique: true, default: 'x' }), 'entities[0].fields[0].default: a unique field cannot have a default (every row would share it)'],
    ['a unique text field', withFields({ name: 'a', type: 'text', unique: true }), 'entities[0].fields[0].unique: a text field cannot be unique or indexed; use a string field'],
    ['an indexed text field', withFields({ name: 'a', type: 'text', index: true }), 'entities[0].fields[0].index: a text field cannot be unique or indexed; use a string field'],
    ['a field name used twice', withFields({ name: 'a', type: 'string' }, { name: 'a', type: 'text' }), 'entities[0].fields[1].name: duplicate field name "a" (also fields[0])'],
    ['an entity without fields', withFields(), 'entities[0].fields: must have at least one field'],
    ['a required reference to itself', withFields({ name: 'parent', type: 'reference', entity: 'thing', required: true }), 'entities[0].fields[0].entity: required references form a loop (thing → thing), so no first row could be inserted; make one of them optional'],
  ])('reports %s', (_case, document, expected) => {
    expect(problems(document)).toEqual([expected]);
  });

  it.each<[string, (document: JsonObject) => unknown, string]>([
    ['a definition that is not an object', () => [], 'definition: must be an object'],
    ['JSON text that does not parse', () => '{ "name": ', 'definition: is not valid JSON'],
    ['an unknown property at the top', (d) => ({ ...d, version: 2 }), 'definition: unknown property "version"'],
    ['a missing app name', ({ entities }) => ({ entities }), 'name: is required'],
    ['an empty app name', (d) => ({ ...d, name: '  ' }), 'name: must be 1 to 80 characters'],
    ['an app name too long', (d) => ({ ...d, name: 'B'.repeat(81) }), 'name: must be 1 to 80 characters'],
    ['no entities', (d) => ({ ...d, entities: [] }), 'entities: must have at least one entity'],
    ['entities that are not a list', (d) => ({ ...d, entities: {} }), 'entities: must be an array'],
    ['an entity that is not an object', (d) => ({ ...d, entities: [...(d.entities as Json[]), 'x'] }), 'entities[2]: must be an object'],
    ['a reserved entity name', (d) => rename(d, 1, 'user'), 'entities[1].name: "user" is a reserved SQL word'],
    ['the entity name table', (d) => rename(d, 1, 'table'), 'entities[1].name: "table" is a reserved SQL word'],
    ['an entity name used twice', (d) => rename(d, 1, 'book'), 'entities[1].name: duplicate entity name "book" (also entities[0])'],
  ])('reports %s', (_case, change, expected) => {
    expect(problems(change(bookshop()))).toEqual([expected]);
  });

  it('reports required references that loop through several entities, at each reference on the loop', () => {
    const document: JsonObject = {
      name: 'Loop',
      entities: [
        { name: 'a', fields: [{ name: 'b', type: 'reference', entity: 'b', required: true }] },
        { name: 'b', fields: [{ name: 'a', type: 'reference', entity: 'a', required: true }] },
      ],
    };

    expect(problems(document)).toEqual([
      'entities[0].fields[0].entity: required references form a loop (a → b → a), so no first row could be inserted; make one of them optional',
      'entities[1].fields[0].entity: required references form a loop (b → a → b), so no first row could be inserted; make one of them optional',
    ]);
  });

  it('enforces the limits on entities, fields, enum values and document size', () => {
    const L = APP_DEFINITION_LIMITS;
    const entities = Array.from({ length: L.maxEntities + 1 }, (_, i) => ({ name: `e${i}`, fields: [{ name: 'a', type: 'string' }] }));
    const fields = Array.from({ length: L.maxFieldsPerEntity + 1 }, (_, i) => ({ name: `f${i}`, type: 'string' }));
    const values = Array.from({ length: L.maxEnumValues + 1 }, (_, i) => `v${i}`);
    const huge = withFields({ name: 'a', type: 'text', default: 'x'.repeat(L.maxDocumentBytes) });

    expect(problems({ name: 'Many', entities })).toEqual(['entities: must have at most 50 entities']);
    expect(problems(withFields(...fields))).toEqual(['entities[0].fields: must have at most 100 fields']);
    expect(problems(withFields({ name: 'a', type: 'enum', values }))).toEqual(['entities[0].fields[0].values: must have at most 100 values']);
    expect(problems(huge)).toEqual([expect.stringMatching(/^definition: is \d+ bytes of JSON, more than the 262144 allowed$/)]);
    expect(problems(JSON.stringify(huge))).toEqual(problems(huge));
  });

  it('reports every violation at once, in document order, in one error', () => {
    const document = {
      name: 'Broken',
      colour: 'red',
      entities: [
        { name: 'book', fields: [{ name: 'title', type: 'string', requred: true }, { name: 'id', type: 'integer' }] },
        {
          name: 'user',
          fields: [
            { name: 'name', type: 'strng' },
            { name: 'book', type: 'reference', entity: 'author' },
            { name: 'role', type: 'enum', values: ['a', 'b'], default: 'c' },
            { name: 'role', type: 'string' },
          ],
        },
      ],
    };

    let thrown: unknown;
    try {
      parseAppDefinition(document);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(AppDefinitionError);
    expect(thrown).toBeInstanceOf(ValidationError);
    const error = thrown as AppDefinitionError;
    expect(error.name).toBe('Hostplane.Validation');
    expect(error.problems).toEqual([
      'definition: unknown property "colour"',
      'entities[0].fields[0]: unknown property "requred"',
      'entities[0].fields[1].name: "id" is added by the platform to every entity',
      'entities[1].name: "user" is a reserved SQL word',
      'entities[1].fields[0].type: unknown type "strng"',
      'entities[1].fields[1].entity: unknown entity "author"',
      'entities[1].fields[2].default: "c" is not one of the values',
      'entities[1].fields[3].name: duplicate field name "role" (also fields[2])',
    ]);
    expect(error.field).toBe('definition');
    expect(error.message).toBe(error.problems.join('; '));
  });

  it('names the first problem as the error field', () => {
    const document = bookshop();

    expect(() => parseAppDefinition(rename(document, 1, 'order'))).toThrow(
      expect.objectContaining({ field: 'entities[1].name', message: 'entities[1].name: "order" is a reserved SQL word' }),
    );
  });
});

describe('formatIssuePath', () => {
  it.each<[PropertyKey[], string]>([
    [[], ''],
    [['name'], 'name'],
    [['entities', 1, 'fields', 0, 'type'], 'entities[1].fields[0].type'],
    [['entities', 0, 'odd key'], 'entities[0]["odd key"]'],
  ])('formats %j as %s', (path, expected) => {
    expect(formatIssuePath(path)).toBe(expected);
  });
});

function rename(document: JsonObject, index: number, name: string): JsonObject {
  const entities = (document.entities as JsonObject[]).map((entity, i) => (i === index ? { ...entity, name } : entity));
  return { ...document, entities };
}
