import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { identifierProblem, parseAppDefinition, type AppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { planMigration, type MigrationPlan } from '../../lambdas/app-definition/migration-plan.js';
import { TEST_DATABASE_URL } from '../support/services.js';

/** The planned SQL, run against the machine's real PostgreSQL in a throwaway database. */

const bookshop = parseAppDefinition(
  readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8'),
);

/** Bookshop plus: a unique isbn, a required genre with a default, an index on pages, and an author. */
const bookshopGrown = parseAppDefinition({
  name: 'Bookshop',
  entities: [
    {
      name: 'book',
      fields: [
        { name: 'title', type: 'string', required: true },
        { name: 'pages', type: 'integer', index: true },
        { name: 'published', type: 'boolean', default: false },
        { name: 'isbn', type: 'string', unique: true },
        { name: 'genre', type: 'enum', values: ['fiction', 'poetry', "children's"], default: 'fiction', required: true },
        { name: 'written_by', type: 'reference', entity: 'author' },
      ],
    },
    {
      name: 'review',
      fields: [
        { name: 'book', type: 'reference', entity: 'book', required: true },
        { name: 'stars', type: 'integer', required: true },
      ],
    },
    { name: 'author', fields: [{ name: 'name', type: 'string', required: true }, { name: 'born', type: 'timestamp' }] },
  ],
});

const database = `hp_appdef_test_${Math.random().toString(36).slice(2, 10)}`;
const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
let client: pg.Client;

/** Runs a plan's steps in one transaction, as the Migrate step does. */
async function apply(plan: MigrationPlan): Promise<void> {
  await client.query('BEGIN');
  try {
    for (const step of plan.steps) await client.query(step.sql);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

async function columns(table: string): Promise<Record<string, string>> {
  const { rows } = await client.query<{ column_name: string; data_type: string; is_nullable: string }>(
    `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'app' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return Object.fromEntries(rows.map((row) => [row.column_name, `${row.data_type}${row.is_nullable === 'NO' ? ' not null' : ''}`]));
}

async function tables(): Promise<string[]> {
  const { rows } = await client.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'app' ORDER BY table_name`,
  );
  return rows.map((row) => row.table_name);
}

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${database}`;
  client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  await client.query('CREATE SCHEMA app');
});

afterAll(async () => {
  await client?.end();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
});

describe('planned migrations on PostgreSQL', () => {
  it('refuses, as names, every word this PostgreSQL reserves', async () => {
    const { rows } = await admin.query<{ word: string }>(`SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')`);

    expect(rows.length).toBeGreaterThan(50);
    for (const { word } of rows) expect([word, identifierProblem(word, 'entity')]).toEqual([word, `"${word}" is a reserved SQL word`]);
  });

  it('creates the Bookshop tables, and they enforce the definition', async () => {
    await apply(planMigration(null, bookshop, { allowDestructive: false }));

    expect(await tables()).toEqual(['book', 'review']);
    expect(await columns('book')).toEqual({
      id: 'bigint not null',
      created_at: 'timestamp with time zone not null',
      updated_at: 'timestamp with time zone not null',
      title: 'character varying not null',
      pages: 'bigint',
      published: 'boolean',
    });
    const book = await client.query<{ id: string; published: boolean }>(`INSERT INTO app.book (title, pages) VALUES ('Dune', 412) RETURNING id, published`);
    expect(book.rows[0]!.published).toBe(false);
    await client.query(`INSERT INTO app.review (book, stars) VALUES ($1, 5)`, [book.rows[0]!.id]);
    await expect(client.query(`INSERT INTO app.review (book, stars) VALUES (999999, 1)`)).rejects.toMatchObject({ code: '23503' });
    await expect(client.query(`INSERT INTO app.book (pages) VALUES (1)`)).rejects.toMatchObject({ code: '23502' });
    await expect(client.query(`INSERT INTO app.book (id, title) VALUES (5, 'x')`)).rejects.toMatchObject({ code: '428C9' });
    await expect(client.query(`DELETE FROM app.book`)).rejects.toMatchObject({ code: '23503' });
  });

  it('runs a plan again without effect or error', async () => {
    await apply(planMigration(null, bookshop, { allowDestructive: false }));

    expect(await tables()).toEqual(['book', 'review']);
  });

  it('applies an additive change to tables that hold rows', async () => {
    const plan = planMigration(bookshop, bookshopGrown, { allowDestructive: false });

    await apply(plan);
    await apply(plan);

    expect(plan.destructive).toBe(false);
    expect(await tables()).toEqual(['author', 'book', 'review']);
    const { rows } = await client.query<{ genre: string }>(`SELECT genre FROM app.book WHERE title = 'Dune'`);
    expect(rows).toEqual([{ genre: 'fiction' }]);
    await client.query(`INSERT INTO app.book (title, isbn, genre) VALUES ('Poems', '978-0', 'children''s')`);
    await expect(client.query(`INSERT INTO app.book (title, isbn) VALUES ('Other', '978-0')`)).rejects.toMatchObject({ code: '23505' });
    await expect(client.query(`INSERT INTO app.book (title, genre) VALUES ('Other', 'drama')`)).rejects.toMatchObject({ code: '23514' });
    await expect(client.query(`UPDATE app.book SET written_by = 424242`)).rejects.toMatchObject({ code: '23503' });
    const indexes = await client.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'app' ORDER BY indexname`);
    expect(indexes.rows.map((row) => row.indexname)).toEqual([
      'author_pkey', 'book_isbn_key', 'book_pages_idx', 'book_pkey', 'book_written_by_idx', 'review_book_idx', 'review_pkey',
    ]);
  });

  it('applies destructive changes when allowed: type changes, narrowed enum, required without default, drops', async () => {
    const next: AppDefinition = parseAppDefinition({
      name: 'Bookshop',
      entities: [
        {
          name: 'book',
          fields: [
            { name: 'title', type: 'text', required: true },
            { name: 'pages', type: 'string' },
            { name: 'isbn', type: 'string', unique: true, required: true },
            { name: 'genre', type: 'enum', values: ['fiction', "children's"], default: 'fiction', required: true },
            { name: 'written_by', type: 'integer' },
            { name: 'rating', type: 'number', required: true, default: 2.5 },
          ],
        },
        { name: 'author', fields: [{ name: 'name', type: 'string', required: true }, { name: 'born', type: 'timestamp' }] },
      ],
    });
    await client.query(`UPDATE app.book SET isbn = 'isbn-' || id WHERE isbn IS NULL`);

    const plan = planMigration(bookshopGrown, next, { allowDestructive: true });
    await apply(plan);
    await apply(plan);

    expect(plan.destructive).toBe(true);
    expect(await tables()).toEqual(['author', 'book']);
    expect(await columns('book')).toEqual({
      id: 'bigint not null',
      created_at: 'timestamp with time zone not null',
      updated_at: 'timestamp with time zone not null',
      title: 'text not null',
      pages: 'character varying',
      isbn: 'character varying not null',
      genre: 'text not null',
      written_by: 'bigint',
      rating: 'double precision not null',
    });
    const { rows } = await client.query<{ pages: string; rating: number }>(`SELECT pages, rating FROM app.book WHERE title = 'Dune'`);
    expect(rows).toEqual([{ pages: '412', rating: 2.5 }]);
    await expect(client.query(`INSERT INTO app.book (title, isbn, genre) VALUES ('x', 'y', 'poetry')`)).rejects.toMatchObject({ code: '23514' });
    await client.query(`UPDATE app.book SET written_by = 424242`);
  });

  it('fails, and changes nothing, when existing rows do not fit a destructive change', async () => {
    const next = parseAppDefinition({
      name: 'Bookshop',
      entities: [
        {
          name: 'book',
          fields: [
            { name: 'title', type: 'text', required: true },
            { name: 'pages', type: 'integer', required: true },
          ],
        },
      ],
    });
    await client.query(`UPDATE app.book SET pages = 'many' WHERE title = 'Poems'`);

    await expect(apply(planMigration(parseAppDefinition({
      name: 'Bookshop',
      entities: [{ name: 'book', fields: [{ name: 'title', type: 'text', required: true }, { name: 'pages', type: 'string' }] }],
    }), next, { allowDestructive: true }))).rejects.toMatchObject({ code: '22P02' });

    expect((await columns('book')).pages).toBe('character varying');
  });

  it('creates and drops entities whose references form a loop', async () => {
    const withLoop = parseAppDefinition({
      name: 'Org',
      entities: [
        { name: 'team', fields: [{ name: 'lead', type: 'reference', entity: 'person' }] },
        { name: 'person', fields: [{ name: 'team', type: 'reference', entity: 'team', required: true }, { name: 'manager', type: 'reference', entity: 'person' }] },
      ],
    });
    const without = parseAppDefinition({ name: 'Org', entities: [{ name: 'author', fields: [{ name: 'name', type: 'string', required: true }, { name: 'born', type: 'timestamp' }] }] });
    const current = parseAppDefinition({ name: 'Org', entities: [...without.entities, ...withLoop.entities] });

    await apply(planMigration(without, current, { allowDestructive: false }));
    const team = await client.query<{ id: string }>(`INSERT INTO app.team DEFAULT VALUES RETURNING id`);
    await client.query(`INSERT INTO app.person (team) VALUES ($1)`, [team.rows[0]!.id]);
    await expect(client.query(`INSERT INTO app.person (team) VALUES (987654)`)).rejects.toMatchObject({ code: '23503' });
    await apply(planMigration(current, without, { allowDestructive: true }));

    expect(await tables()).toEqual(['author', 'book']);
  });
});
