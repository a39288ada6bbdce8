import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parseAppDefinition, type AppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import {
  MigrationRefusedError,
  planMigration,
  type MigrationPlan,
} from '../../lambdas/app-definition/migration-plan.js';
import { ValidationError } from '../../lambdas/domain/errors.js';

const bookshop = parseAppDefinition(
  readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8'),
);

type FieldInput = Record<string, unknown> & { name: string };

/** Bookshop with its `book` entity's fields changed by `change` and, optionally, other entities. */
function bookshopWith(
  change: (fields: FieldInput[]) => FieldInput[],
  entities: (list: { name: string; fields: FieldInput[] }[]) => { name: string; fields: FieldInput[] }[] = (list) => list,
): AppDefinition {
  const copy = JSON.parse(JSON.stringify(bookshop)) as { name: string; entities: { name: string; fields: FieldInput[] }[] };
  const list = copy.entities.map((entity) => (entity.name === 'book' ? { ...entity, fields: change(entity.fields) } : entity));
  return parseAppDefinition({ name: copy.name, entities: entities(list) });
}

const replaceField = (name: string, field: FieldInput) => (fields: FieldInput[]) =>
  fields.map((existing) => (existing.name === name ? field : existing));

const sqlOf = (plan: MigrationPlan) => plan.steps.map((step) => step.sql);

function refusals(deployed: AppDefinition, next: AppDefinition): readonly string[] {
  try {
    planMigration(deployed, next, { allowDestructive: false });
    return [];
  } catch (error) {
    if (error instanceof MigrationRefusedError) return error.refused;
    throw error;
  }
}

describe('planMigration', () => {
  describe('a first deploy', () => {
    it('creates every table, with the platform columns, typed columns, constraints and reference indexes', () => {
      const plan = planMigration(null, bookshop, { allowDestructive: false });

      expect(plan.from).toBeNull();
      expect(plan.destructive).toBe(false);
      expect(plan.steps.map((step) => [step.kind, step.entity, step.field])).toEqual([
        ['create-table', 'book', undefined],
        ['create-table', 'review', undefined],
        ['create-index', 'review', 'book'],
      ]);
      expect(sqlOf(plan)).toEqual([
        `CREATE TABLE IF NOT EXISTS "app"."book" (
  "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  "title" varchar(255) NOT NULL,
  "pages" bigint,
  "published" boolean DEFAULT false
)`,
        `CREATE TABLE IF NOT EXISTS "app"."review" (
  "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  "book" bigint NOT NULL CONSTRAINT "review_book_fkey" REFERENCES "app"."book" ("id") ON DELETE RESTRICT,
  "stars" bigint NOT NULL
)`,
        `CREATE INDEX IF NOT EXISTS "review_book_idx" ON "app"."review" ("book")`,
      ]);
    });

    it('maps every field type and flag to its column', () => {
      const definition = parseAppDefinition({
        name: 'Types',
        entities: [
          {
            name: 'thing',
            fields: [
              { name: 'code', type: 'string', unique: true },
              { name: 'notes', type: 'text', default: "it's" },
              { name: 'count', type: 'integer', default: -2, index: true },
              { name: 'ratio', type: 'number', default: 0.25 },
              { name: 'seen', type: 'timestamp', default: '2024-01-31T12:00:00Z' },
              { name: 'state', type: 'enum', values: ['new', "won't do"], default: 'new', required: true },
            ],
          },
        ],
      });

      const plan = planMigration(null, definition, { allowDestructive: false, schema: 'tenant_app' });

      expect(sqlOf(plan)).toEqual([
        `CREATE TABLE IF NOT EXISTS "tenant_app"."thing" (
  "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  "code" varchar(255) CONSTRAINT "thing_code_key" UNIQUE,
  "notes" text DEFAULT 'it''s',
  "count" bigint DEFAULT -2,
  "ratio" double precision DEFAULT 0.25,
  "seen" timestamptz DEFAULT '2024-01-31T12:00:00Z'::timestamptz,
  "state" text NOT NULL DEFAULT 'new' CONSTRAINT "thing_state_check" CHECK ("state" IN ('new', 'won''t do'))
)`,
        `CREATE INDEX IF NOT EXISTS "thing_count_idx" ON "tenant_app"."thing" ("count")`,
      ]);
    });

    it('creates referenced tables first, whatever the order in the definition', () => {
      const definition = parseAppDefinition({
        name: 'Shop',
        entities: [
          { name: 'line', fields: [{ name: 'purchase', type: 'reference', entity: 'purchase', required: true }] },
          { name: 'purchase', fields: [{ name: 'customer', type: 'reference', entity: 'customer', required: true }] },
          { name: 'customer', fields: [{ name: 'name', type: 'string' }] },
        ],
      });

      const plan = planMigration(null, definition, { allowDestructive: false });

      expect(plan.steps.filter((step) => step.kind === 'create-table').map((step) => step.entity)).toEqual(['customer', 'purchase', 'line']);
    });

    it('adds the foreign keys of references in a loop once both tables exist', () => {
      const definition = parseAppDefinition({
        name: 'Org',
        entities: [
          { name: 'team', fields: [{ name: 'lead', type: 'reference', entity: 'person' }] },
          {
            name: 'person',
            fields: [
              { name: 'team', type: 'reference', entity: 'team', required: true },
              { name: 'manager', type: 'reference', entity: 'person' },
            ],
          },
        ],
      });

      const plan = planMigration(null, definition, { allowDestructive: false });

      expect(plan.steps.map((step) => `${step.kind} ${step.entity}${step.field ? `.${step.field}` : ''}`)).toEqual([
        'create-table person',
        'create-index person.team',
        'create-index person.manager',
        'create-table team',
        'create-index team.lead',
        'add-foreign-key person.team',
      ]);
      expect(plan.steps[0]!.sql).toContain('"team" bigint NOT NULL,');
      expect(plan.steps[0]!.sql).toContain(`"manager" bigint CONSTRAINT "person_manager_fkey" REFERENCES "app"."person" ("id") ON DELETE RESTRICT`);
      expect(plan.steps[5]!.sql).toBe(
        `ALTER TABLE "app"."person" DROP CONSTRAINT IF EXISTS "person_team_fkey", ADD CONSTRAINT "person_team_fkey" FOREIGN KEY ("team") REFERENCES "app"."team" ("id") ON DELETE RESTRICT`,
      );
    });

    it('keeps derived constraint names within the 63 bytes PostgreSQL keeps, and distinct', () => {
      const entity = 'e'.repeat(40);
      const definition = parseAppDefinition({
        name: 'Long',
        entities: [{ name: entity, fields: [{ name: `${'f'.repeat(39)}1`, type: 'string', unique: true }, { name: `${'f'.repeat(39)}2`, type: 'string', unique: true }] }],
      });

      const sql = planMigration(null, definition, { allowDestructive: false }).steps[0]!.sql;
      const names = [...sql.matchAll(/CONSTRAINT "([^"]+)"/g)].map((match) => match[1]!);

      expect(names).toHaveLength(2);
      expect(new Set(names).size).toBe(2);
      for (const name of names) expect(name.length).toBeLessThanOrEqual(63);
    });

    it('refuses a schema name that is not a plain identifier', () => {
      expect(() => planMigration(null, bookshop, { allowDestructive: false, schema: 'app"; drop' })).toThrow('refusing to quote');
    });
  });

  describe('additive changes', () => {
    it('plans nothing when nothing changed', () => {
      const plan = planMigration(bookshop, bookshop, { allowDestructive: false });

      expect(plan.steps).toEqual([]);
      expect(plan.from).toBe(plan.to);
    });

    it('creates a new entity that refers to an existing one', () => {
      const next = bookshopWith((fields) => fields, (list) => [...list, { name: 'author', fields: [{ name: 'name', type: 'string', required: true }, { name: 'favourite', type: 'reference', entity: 'book' }] }]);

      expect(sqlOf(planMigration(bookshop, next, { allowDestructive: false }))).toEqual([
        `CREATE TABLE IF NOT EXISTS "app"."author" (
  "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  "name" varchar(255) NOT NULL,
  "favourite" bigint CONSTRAINT "author_favourite_fkey" REFERENCES "app"."book" ("id") ON DELETE RESTRICT
)`,
        `CREATE INDEX IF NOT EXISTS "author_favourite_idx" ON "app"."author" ("favourite")`,
      ]);
    });

    it('adds a nullable column', () => {
      const next = bookshopWith((fields) => [...fields, { name: 'isbn', type: 'string', unique: true }]);

      expect(sqlOf(planMigration(bookshop, next, { allowDestructive: false }))).toEqual([
        `ALTER TABLE "app"."book" ADD COLUMN IF NOT EXISTS "isbn" varchar(255) CONSTRAINT "book_isbn_key" UNIQUE`,
      ]);
    });

    it('adds a required column with a default', () => {
      const next = bookshopWith((fields) => [...fields, { name: 'genre', type: 'enum', values: ['fiction', 'poetry'], default: 'fiction', required: true }]);

      expect(sqlOf(planMigration(bookshop, next, { allowDestructive: false }))).toEqual([
        `ALTER TABLE "app"."book" ADD COLUMN IF NOT EXISTS "genre" text NOT NULL DEFAULT 'fiction' CONSTRAINT "book_genre_check" CHECK ("genre" IN ('fiction', 'poetry'))`,
      ]);
    });

    it('adds a reference column with its foreign key and index', () => {
      const next = bookshopWith((fields) => [...fields, { name: 'sequel', type: 'reference', entity: 'book' }]);

      expect(sqlOf(planMigration(bookshop, next, { allowDestructive: false }))).toEqual([
        `ALTER TABLE "app"."book" ADD COLUMN IF NOT EXISTS "sequel" bigint CONSTRAINT "book_sequel_fkey" REFERENCES "app"."book" ("id") ON DELETE RESTRICT`,
        `CREATE INDEX IF NOT EXISTS "book_sequel_idx" ON "app"."book" ("sequel")`,
      ]);
    });

    it('adds an index', () => {
      const next = bookshopWith(replaceField('pages', { name: 'pages', type: 'integer', index: true }));

      const plan = planMigration(bookshop, next, { allowDestructive: false });

      expect(plan.steps.map((step) => step.kind)).toEqual(['create-index']);
      expect(sqlOf(plan)).toEqual([`CREATE INDEX IF NOT EXISTS "book_pages_idx" ON "app"."book" ("pages")`]);
    });

    it('widens an enum by a value', () => {
      const genre = { name: 'genre', type: 'enum', values: ['fiction'] };
      const before = bookshopWith((fields) => [...fields, genre]);
      const after = bookshopWith((fields) => [...fields, { ...genre, values: ['fiction', 'poetry'] }]);

      expect(sqlOf(planMigration(before, after, { allowDestructive: false }))).toEqual([
        `ALTER TABLE "app"."book" DROP CONSTRAINT IF EXISTS "book_genre_check", ADD CONSTRAINT "book_genre_check" CHECK ("genre" IN ('fiction', 'poetry'))`,
      ]);
    });

    it('plans nothing when only the order of enum values changed', () => {
      const genre = { name: 'genre', type: 'enum', values: ['fiction', 'poetry'] };
      const before = bookshopWith((fields) => [...fields, genre]);
      const after = bookshopWith((fields) => [...fields, { ...genre, values: ['poetry', 'fiction'] }]);

      expect(planMigration(before, after, { allowDestructive: false }).steps).toEqual([]);
    });

    it('makes a nullable field required when it has a default, filling empty rows first', () => {
      const next = bookshopWith(replaceField('pages', { name: 'pages', type: 'integer', required: true, default: 0 }));

      expect(sqlOf(planMigration(bookshop, next, { allowDestructive: false }))).toEqual([
        `ALTER TABLE "app"."book" ALTER COLUMN "pages" SET DEFAULT 0`,
        `UPDATE "app"."book" SET "pages" = 0 WHERE "pages" IS NULL`,
        `ALTER TABLE "app"."book" ALTER COLUMN "pages" SET NOT NULL`,
      ]);
    });

    it('lets a field repeat and drops an index no longer wanted', () => {
      const before = bookshopWith((fields) =>
        fields.map((field) => (field.name === 'title' ? { ...field, unique: true } : field.name === 'pages' ? { ...field, index: true } : field)),
      );

      const plan = planMigration(before, bookshop, { allowDestructive: false });

      expect(sqlOf(plan)).toEqual([
        `ALTER TABLE "app"."book" DROP CONSTRAINT IF EXISTS "book_title_key"`,
        `DROP INDEX IF EXISTS "app"."book_pages_idx"`,
      ]);
      expect(plan.destructive).toBe(false);
    });

    it('drops a default and makes a required field optional', () => {
      const before = bookshopWith(replaceField('published', { name: 'published', type: 'boolean', default: false, required: true }));
      const after = bookshopWith(replaceField('published', { name: 'published', type: 'boolean' }));

      expect(sqlOf(planMigration(before, after, { allowDestructive: false }))).toEqual([
        `ALTER TABLE "app"."book" ALTER COLUMN "published" DROP DEFAULT`,
        `ALTER TABLE "app"."book" ALTER COLUMN "published" DROP NOT NULL`,
      ]);
    });
  });

  describe('refused changes', () => {
    const pass = 'pass allowDestructive: true';
    const cases: [string, AppDefinition, string][] = [
      ['dropping an entity', bookshopWith((f) => f, (list) => list.filter((entity) => entity.name !== 'review')),
        `review: dropping the entity deletes its table and every row (a rename counts as a drop and an add); ${pass}`],
      ['dropping a field', bookshopWith((fields) => fields.filter((field) => field.name !== 'pages')),
        `book.pages: dropping the field deletes its data (a rename counts as a drop and an add); ${pass}`],
      ['a type change', bookshopWith(replaceField('pages', { name: 'pages', type: 'string' })),
        `book.pages: type change integer → string is destructive; ${pass}`],
      ['a widening type change (string → text)', bookshopWith(replaceField('title', { name: 'title', type: 'text', required: true })),
        `book.title: type change string → text is destructive; ${pass}`],
      ['a nullable field made required without a default', bookshopWith(replaceField('pages', { name: 'pages', type: 'integer', required: true })),
        `book.pages: nullable → required without a default is destructive (existing rows may be empty); ${pass}`],
      ['a new required field without a default', bookshopWith((fields) => [...fields, { name: 'isbn', type: 'string', required: true }]),
        `book.isbn: a new required field without a default cannot be added to existing rows; give it a default or ${pass}`],
      ['a field made unique', bookshopWith(replaceField('title', { name: 'title', type: 'string', required: true, unique: true })),
        `book.title: making the field unique is narrowing (existing rows may repeat a value); ${pass}`],
    ];

    it.each(cases)('refuses %s', (_case, next, message) => {
      expect(refusals(bookshop, next)).toEqual([message]);
    });

    it('refuses removing an enum value', () => {
      const before = bookshopWith((fields) => [...fields, { name: 'genre', type: 'enum', values: ['fiction', 'poetry', 'drama'] }]);
      const after = bookshopWith((fields) => [...fields, { name: 'genre', type: 'enum', values: ['fiction'] }]);

      expect(refusals(before, after)).toEqual([`book.genre: removing enum values "poetry", "drama" is destructive; ${pass}`]);
    });

    it('refuses pointing a reference at another entity', () => {
      const withAuthor = (target: string) =>
        bookshopWith((fields) => [...fields, { name: 'origin', type: 'reference', entity: target }], (list) => [...list, { name: 'author', fields: [{ name: 'name', type: 'string' }] }]);

      expect(refusals(withAuthor('book'), withAuthor('author'))).toEqual([`book.origin: reference change book → author is destructive; ${pass}`]);
    });

    it('sees a renamed field as a drop and an add, and refuses the drop', () => {
      const next = bookshopWith(replaceField('pages', { name: 'page_count', type: 'integer' }));

      expect(refusals(bookshop, next)).toEqual([`book.pages: dropping the field deletes its data (a rename counts as a drop and an add); ${pass}`]);
    });

    it('sees a renamed entity as a drop and an add, and refuses the drop', () => {
      const next = bookshopWith((f) => f, (list) => list.map((entity) => (entity.name === 'review' ? { ...entity, name: 'rating' } : entity)));

      expect(refusals(bookshop, next)).toEqual([`review: dropping the entity deletes its table and every row (a rename counts as a drop and an add); ${pass}`]);
    });

    it('reports every refused change at once, as a validation error naming the first', () => {
      const next = bookshopWith(
        () => [
          { name: 'title', type: 'text', required: true },
          { name: 'pages', type: 'integer', required: true },
          { name: 'isbn', type: 'string', required: true },
        ],
        (list) => list.filter((entity) => entity.name !== 'review'),
      );

      let thrown: unknown;
      try {
        planMigration(bookshop, next, { allowDestructive: false });
      } catch (error) {
        thrown = error;
      }

      expect(thrown).toBeInstanceOf(MigrationRefusedError);
      expect(thrown).toBeInstanceOf(ValidationError);
      const error = thrown as MigrationRefusedError;
      expect(error.refused).toEqual([
        `book.title: type change string → text is destructive; ${pass}`,
        `book.pages: nullable → required without a default is destructive (existing rows may be empty); ${pass}`,
        `book.isbn: a new required field without a default cannot be added to existing rows; give it a default or ${pass}`,
        `book.published: dropping the field deletes its data (a rename counts as a drop and an add); ${pass}`,
        `review: dropping the entity deletes its table and every row (a rename counts as a drop and an add); ${pass}`,
      ]);
      expect(error.field).toBe('book.title');
      expect(error.message).toBe(error.refused.join('; '));
    });

    describe('with allowDestructive', () => {
      it.each(cases)('lets %s through, marked destructive', (_case, next) => {
        const plan = planMigration(bookshop, next, { allowDestructive: true });

        expect(plan.steps.length).toBeGreaterThan(0);
        expect(plan.destructive).toBe(true);
      });

      it('drops tables after dropping what refers to them, and columns after adding the new ones', () => {
        const next = parseAppDefinition({ name: 'Bookshop', entities: [{ name: 'author', fields: [{ name: 'name', type: 'string' }] }] });

        const plan = planMigration(bookshop, next, { allowDestructive: true });

        expect(plan.steps.map((step) => [step.kind, step.destructive, step.sql.split('\n')[0]])).toEqual([
          ['create-table', false, 'CREATE TABLE IF NOT EXISTS "app"."author" ('],
          ['drop-table', true, 'DROP TABLE IF EXISTS "app"."review"'],
          ['drop-table', true, 'DROP TABLE IF EXISTS "app"."book"'],
        ]);
      });

      it('drops the foreign keys of a reference loop before dropping its tables', () => {
        const loop = parseAppDefinition({
          name: 'Org',
          entities: [
            { name: 'team', fields: [{ name: 'lead', type: 'reference', entity: 'person' }] },
            { name: 'person', fields: [{ name: 'team', type: 'reference', entity: 'team' }] },
            { name: 'keep', fields: [{ name: 'a', type: 'string' }] },
          ],
        });
        const next = parseAppDefinition({ name: 'Org', entities: [{ name: 'keep', fields: [{ name: 'a', type: 'string' }] }] });

        expect(sqlOf(planMigration(loop, next, { allowDestructive: true }))).toEqual([
          `ALTER TABLE IF EXISTS "app"."person" DROP CONSTRAINT IF EXISTS "person_team_fkey"`,
          `DROP TABLE IF EXISTS "app"."team"`,
          `DROP TABLE IF EXISTS "app"."person"`,
        ]);
      });

      it('changes a type by dropping what no longer fits, converting, then adding what the new type needs', () => {
        const before = bookshopWith((fields) => [...fields, { name: 'genre', type: 'enum', values: ['a', 'b'], default: 'a', required: true }]);
        const after = bookshopWith((fields) => [...fields, { name: 'genre', type: 'integer', default: 1, required: true }]);

        expect(sqlOf(planMigration(before, after, { allowDestructive: true }))).toEqual([
          `ALTER TABLE "app"."book" DROP CONSTRAINT IF EXISTS "book_genre_check", ALTER COLUMN "genre" DROP DEFAULT, ALTER COLUMN "genre" TYPE bigint USING "genre"::bigint`,
          `ALTER TABLE "app"."book" ALTER COLUMN "genre" SET DEFAULT 1`,
        ]);
      });
    });
  });

  describe('determinism', () => {
    const next = bookshopWith(
      (fields) => [...fields, { name: 'isbn', type: 'string', unique: true }, { name: 'rank', type: 'number', index: true }],
      (list) => [...list, { name: 'author', fields: [{ name: 'name', type: 'string' }] }],
    );

    it('gives the same plan, ids included, for the same input', () => {
      const first = planMigration(bookshop, next, { allowDestructive: false });
      const again = planMigration(JSON.parse(JSON.stringify(bookshop)) as AppDefinition, JSON.parse(JSON.stringify(next)) as AppDefinition, { allowDestructive: false });

      expect(again).toEqual(first);
    });

    it('gives every step of a plan its own id, a hash', () => {
      const { steps } = planMigration(null, next, { allowDestructive: false });

      expect(new Set(steps.map((step) => step.id)).size).toBe(steps.length);
      for (const step of steps) expect(step.id).toMatch(/^[0-9a-f]{32}$/);
    });

    it('gives a statement planned again from another deployed definition a new id (add, drop, add again)', () => {
      const withIsbn = bookshopWith((fields) => [...fields, { name: 'isbn', type: 'string' }]);
      const renamedApp = parseAppDefinition({ ...JSON.parse(JSON.stringify(bookshop)), name: 'Books' });

      const first = planMigration(bookshop, withIsbn, { allowDestructive: false }).steps[0]!;
      const again = planMigration(renamedApp, withIsbn, { allowDestructive: false }).steps[0]!;

      expect(again.sql).toBe(first.sql);
      expect(again.id).not.toBe(first.id);
    });
  });
});
