import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { parseAppDefinition, type AppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { planMigration } from '../../lambdas/app-definition/migration-plan.js';
import { BackupInvalidError, listBackups, readBackup } from '../../lambdas/backup/backup-format.js';
import { backupTenant } from '../../lambdas/backup/backup-tenant.js';
import { exportBackup } from '../../lambdas/backup/export-tenant.js';
import { restoreTenant } from '../../lambdas/backup/restore-tenant.js';
import { applyMigrations } from '../../lambdas/deploy/apply-migrations.js';
import { deployedDefinition, planTenantMigration } from '../../lambdas/deploy/tenant-schema.js';
import type { TenantResourceNames } from '../../lambdas/domain/naming.js';
import { parseProvisionRequest, planTenant, type TenantPlan } from '../../lambdas/domain/tenant-plan.js';
import type { PlatformConfig } from '../../lambdas/ports/index.js';
import type { SqlValue } from '../../lambdas/ports/sql.js';
import { ensureTenantDatabase } from '../../lambdas/provision/tenant-database.js';
import { FolderBackupStore } from '../../local/adapters/folder-backup-store.js';
import { PgSql } from '../../local/adapters/pg-sql.js';
import { dropTestDatabases } from '../support/databases.js';
import { pollUntil } from '../support/poll.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { TEST_DATABASE_URL, uniqueEnvironment } from '../support/services.js';

/** A title no CSV or JSON line may break: a comma, quotes, a CR LF and a LF. */
const AWKWARD = 'Comma, "quoted" and\r\nbroken\nlines';

describe('per-tenant backup, restore and export', () => {
  const environment = uniqueEnvironment('bak');
  const sql = new PgSql({ connectionString: TEST_DATABASE_URL, defaultDatabase: 'postgres' });
  const secrets = new MemorySecrets();
  const config: PlatformConfig = { environment, cells: [], databaseEndpoint: { host: '127.0.0.1', port: 5432 } };
  const clients: pg.Client[] = [];
  let stateDir: string;
  let store: FolderBackupStore;
  let bookshop: AppDefinition;
  let alpha: TenantPlan;
  let beta: TenantPlan;
  /** alpha's rows when `backupOfAlpha` was taken. */
  let alphaAtBackup: Snapshot;
  const backupOfAlpha = `${environment}/alpha/bk-1`;

  const tenant = async (tenantId: string, definition?: AppDefinition): Promise<TenantPlan> => {
    const plan = planTenant(parseProvisionRequest({ tenantId }), environment, 'local');
    await ensureTenantDatabase(plan, sql, secrets, config);
    if (definition) {
      await applyMigrations(sql, secrets, plan.names, planMigration(null, definition, { allowDestructive: false, schema: plan.names.schema }), { definition });
    }
    return plan;
  };
  const inTenant = (names: TenantResourceNames) => ({ database: names.database });
  const addBook = async (names: TenantResourceNames, title: string | null, pages: SqlValue = null, extra = ''): Promise<number> => {
    const { rows } = await sql.query<{ id: number }>(
      `INSERT INTO app.book (title, pages${extra ? ', published, created_at' : ''}) VALUES (:title, CAST(:pages AS bigint)${extra}) RETURNING id`,
      { title, pages },
      inTenant(names),
    );
    return rows[0]!.id;
  };
  const addReview = async (names: TenantResourceNames, book: number, stars: number) =>
    sql.query('INSERT INTO app.review (book, stars) VALUES (:book, :stars)', { book, stars }, inTenant(names));
  const tenantLogin = async (names: TenantResourceNames): Promise<pg.Client> => {
    const secret = (await secrets.get(names.databaseSecret))!;
    const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: secret.username, password: secret.password, database: secret.dbname });
    clients.push(client);
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hostplane-backup-test-'));
    store = new FolderBackupStore(join(stateDir, 'backups'));
    bookshop = parseAppDefinition(JSON.parse(await readFile('lambdas/app-definition/examples/bookshop.json', 'utf8')));
    alpha = await tenant('alpha', bookshop);
    beta = await tenant('beta', bookshop);

    const dune = await addBook(alpha.names, 'Dune', 412, `, true, CAST('2001-02-03T04:05:06.123456Z' AS timestamptz)`);
    const awkward = await addBook(alpha.names, AWKWARD);
    const gone = await addBook(alpha.names, 'Deleted before the backup, leaving a gap in the ids', 1);
    await addBook(alpha.names, '', 0);
    const big = await addBook(alpha.names, 'Ünïcødé ✓ with pages beyond 2^53', '9007199254740993');
    await sql.query('DELETE FROM app.book WHERE id = :gone', { gone }, inTenant(alpha.names));
    await addReview(alpha.names, dune, 5);
    await addReview(alpha.names, awkward, 3);
    await addReview(alpha.names, big, 1);
    await addBook(beta.names, 'Beta book', 10);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await sql.close();
    await dropTestDatabases(`hp_${environment}_`);
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  /** Every row of every table in the tenant's app schema, as PostgreSQL prints it (microseconds, exact bigints). */
  type Snapshot = Record<string, string[]>;
  const snapshot = async (names: TenantResourceNames): Promise<Snapshot> => {
    const tables = await sql.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'app' ORDER BY tablename`, {}, inTenant(names));
    const result: Snapshot = {};
    for (const { tablename } of tables.rows) {
      if (!/^[a-z_]+$/.test(tablename)) throw new Error(`unexpected table ${tablename}`);
      const { rows } = await sql.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM app."${tablename}" t ORDER BY id`, {}, inTenant(names));
      result[tablename] = rows.map((row) => row.row);
    }
    return result;
  };

  it('restores a tenant to its backup: ids, timestamps, nulls and references, and the next deploy plans from there', async () => {
    const manifest = await backupTenant({ sql, secrets, store, names: alpha.names, tenantId: 'alpha', backupId: 'bk-1', prefix: backupOfAlpha, reason: 'manual' });
    alphaAtBackup = await snapshot(alpha.names);

    expect(manifest).toMatchObject({ format: 'hostplane-backup/1', backupId: 'bk-1', tenantId: 'alpha', reason: 'manual', definition: bookshop });
    expect(manifest.entities.map(({ entity, table, rows, file }) => ({ entity, table, rows, file }))).toEqual([
      { entity: 'book', table: 'app.book', rows: 4, file: 'data/book.jsonl' },
      { entity: 'review', table: 'app.review', rows: 3, file: 'data/review.jsonl' },
    ]);
    expect(manifest.entities[0]!.columns).toEqual(['id', 'title', 'pages', 'published', 'created_at', 'updated_at']);
    expect(alphaAtBackup.book!.join('\n')).toContain('"created_at":"2001-02-03T04:05:06.123456+00:00"');

    await sql.query(`UPDATE app.book SET title = 'Changed', pages = NULL, updated_at = now() WHERE title = 'Dune'`, {}, inTenant(alpha.names));
    await sql.query('DELETE FROM app.review WHERE stars = 3', {}, inTenant(alpha.names));
    await addBook(alpha.names, 'Written after the backup');
    expect(await snapshot(alpha.names)).not.toEqual(alphaAtBackup);

    const result = await restoreTenant({ sql, store, names: alpha.names, prefix: backupOfAlpha });

    expect(result).toEqual({ entities: [{ entity: 'book', rows: 4 }, { entity: 'review', rows: 3 }] });
    expect(await snapshot(alpha.names)).toEqual(alphaAtBackup);
    expect(await deployedDefinition(sql, alpha.names)).toEqual(bookshop);
    const owners = await sql.query(`SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'app' ORDER BY tablename`, {}, inTenant(alpha.names));
    expect(owners.rows).toEqual([
      { tablename: 'book', tableowner: alpha.names.role },
      { tablename: 'review', tableowner: alpha.names.role },
    ]);

    const login = await tenantLogin(alpha.names);
    const maxId = Math.max(...alphaAtBackup.book!.map((row) => (JSON.parse(row) as { id: number }).id));
    const inserted = await login.query<{ id: string }>(`INSERT INTO book (title) VALUES ('After the restore') RETURNING id`);
    expect(Number(inserted.rows[0]!.id)).toBe(maxId + 1);
    await expect(login.query('INSERT INTO review (book, stars) VALUES (999999, 1)')).rejects.toThrow(/foreign key/);
    const fkeys = await login.query(`SELECT conname, condeferrable FROM pg_constraint WHERE contype = 'f' AND connamespace = 'app'::regnamespace`);
    expect(fkeys.rows).toEqual([{ conname: 'review_book_fkey', condeferrable: false }]);
    await login.query(`DELETE FROM book WHERE title = 'After the restore'`);

    const next = parseAppDefinition({ ...bookshop, entities: bookshop.entities.map((e) => (e.name === 'book' ? { ...e, fields: [...e.fields, { name: 'isbn', type: 'string' }] } : e)) });
    const plan = await planTenantMigration(sql, alpha.names, next, { allowDestructive: false });
    expect(plan.steps.map((step) => step.summary)).toEqual(['add column book.isbn']);
    expect((await applyMigrations(sql, secrets, alpha.names, plan, { definition: next })).applied).toHaveLength(1);
    await restoreTenant({ sql, store, names: alpha.names, prefix: backupOfAlpha });
    expect(await snapshot(alpha.names)).toEqual(alphaAtBackup);
  });

  it("restores into another tenant's database: the same rows, owned by that tenant; the first tenant untouched", async () => {
    const delta = await tenant('delta');
    const alphaBefore = await snapshot(alpha.names);

    await restoreTenant({ sql, store, names: delta.names, prefix: backupOfAlpha });

    expect(await snapshot(delta.names)).toEqual(alphaAtBackup);
    expect(await snapshot(alpha.names)).toEqual(alphaBefore);
    expect(await deployedDefinition(sql, delta.names)).toEqual(bookshop);
    const login = await tenantLogin(delta.names);
    expect((await login.query(`SELECT title FROM book WHERE title = $1`, [AWKWARD])).rows).toEqual([{ title: AWKWARD }]);
    const owners = await login.query(`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'app'`);
    expect(owners.rows).toEqual([{ tableowner: delta.names.role }]);
  });

  it("restores one tenant while another is being written to: the other's writes go on and are kept", async () => {
    const betaBefore = await snapshot(beta.names);
    const betaLogin = await tenantLogin(beta.names);
    // An open transaction reading alpha's books holds the restore at its DROP SCHEMA, so beta's writes surely happen during it.
    const reader = new pg.Client({ connectionString: new URL(`/${alpha.names.database}`, TEST_DATABASE_URL).toString() });
    clients.push(reader);
    await reader.connect();
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM app.book');

    let restoring = true;
    const restore = restoreTenant({ sql, store, names: alpha.names, prefix: backupOfAlpha }).finally(() => {
      restoring = false;
    });
    await pollUntil(
      async () => {
        const { rows } = await sql.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = :database AND wait_event_type = 'Lock' AND query LIKE 'DROP SCHEMA%'`,
          { database: alpha.names.database },
        );
        return rows.length > 0 ? true : undefined;
      },
      { what: "the restore of alpha waiting for alpha's reader" },
    );
    const written: string[] = [];
    for (let i = 0; i < 20; i++) {
      const title = `written during alpha's restore #${i}`;
      await betaLogin.query('INSERT INTO book (title, pages) VALUES ($1, $2)', [title, i]);
      written.push(title);
    }
    await betaLogin.query(`UPDATE book SET pages = 11 WHERE title = 'Beta book'`);
    expect(restoring).toBe(true);
    await reader.query('COMMIT');
    await restore;

    expect(await snapshot(alpha.names)).toEqual(alphaAtBackup);
    const betaAfter = await snapshot(beta.names);
    const books = betaAfter.book!.map((row) => JSON.parse(row) as { title: string; pages: number });
    expect(books.map((book) => book.title)).toEqual([...betaBefore.book!.map((row) => (JSON.parse(row) as { title: string }).title), ...written]);
    expect(books.find((book) => book.title === 'Beta book')?.pages).toBe(11);
    expect(betaAfter.review).toEqual(betaBefore.review);
  });

  it('refuses a tampered, cut-off or incomplete backup before touching the database', async () => {
    const copy = async (to: string, change: (file: string, content: Buffer) => Buffer | undefined) => {
      for (const key of await store.list(`${backupOfAlpha}/`)) {
        const file = key.slice(backupOfAlpha.length + 1);
        const content = change(file, (await store.read(key))!);
        if (content) await store.write(`${to}/${file}`, content);
      }
    };
    const tampered = `${environment}/alpha/tampered`;
    await copy(tampered, (file, content) => (file === 'data/book.jsonl' ? Buffer.from(content.toString().replace('Dune', 'Dupe')) : content));
    const cut = `${environment}/alpha/cut`;
    await copy(cut, (file, content) => (file === 'data/review.jsonl' ? content.subarray(0, content.length - 10) : content));
    const recounted = `${environment}/alpha/recounted`;
    await copy(recounted, (file, content) => (file === 'manifest.json' ? Buffer.from(content.toString().replace('"rows": 4', '"rows": 5')) : content));
    const incomplete = `${environment}/alpha/incomplete`;
    await copy(incomplete, (file, content) => (file === 'manifest.json' ? undefined : content));
    await sql.query(`UPDATE app.book SET title = 'Changed since' WHERE title = 'Dune'`, {}, inTenant(alpha.names));
    const before = await snapshot(alpha.names);

    const attempt = (prefix: string) => restoreTenant({ sql, store, names: alpha.names, prefix });
    await expect(attempt(tampered)).rejects.toThrow(`backup ${tampered}: data/book.jsonl: does not match its SHA-256 in the manifest`);
    await expect(attempt(tampered)).rejects.toBeInstanceOf(BackupInvalidError);
    await expect(attempt(cut)).rejects.toThrow(`backup ${cut}: data/review.jsonl: is`);
    await expect(attempt(recounted)).rejects.toThrow(`backup ${recounted}: data/book.jsonl: holds 4 rows, the manifest says 5`);
    await expect(attempt(incomplete)).rejects.toThrow(`backup ${incomplete}: manifest.json: is missing: the backup is incomplete`);
    await expect(attempt(`${environment}/alpha/nothing-here`)).rejects.toThrow('manifest.json: is missing');

    expect(await snapshot(alpha.names)).toEqual(before);
    const listed = (await listBackups(store, `${environment}/alpha/`)).map((backup) => backup.prefix);
    expect(listed).toContain(backupOfAlpha);
    expect(listed).toContain(tampered);
    expect(listed).not.toContain(incomplete);
  });

  it('backs up a tenant that never deployed as an empty backup, which restores', async () => {
    const gamma = await tenant('gamma');
    const epsilon = await tenant('epsilon', bookshop);
    await addBook(epsilon.names, 'Replaced by an empty backup');
    const prefix = `${environment}/gamma/bk-empty`;

    const manifest = await backupTenant({ sql, secrets, store, names: gamma.names, tenantId: 'gamma', backupId: 'bk-empty', prefix, reason: 'final' });

    expect(manifest).toMatchObject({ tenantId: 'gamma', reason: 'final', definition: null, fingerprint: null, entities: [] });
    expect(await store.list(`${prefix}/`)).toEqual([`${prefix}/manifest.json`]);
    expect((await listBackups(store, `${environment}/gamma/`)).map((backup) => backup.prefix)).toEqual([prefix]);
    expect(await restoreTenant({ sql, store, names: gamma.names, prefix })).toEqual({ entities: [] });
    expect(await restoreTenant({ sql, store, names: epsilon.names, prefix })).toEqual({ entities: [] });
    expect(await snapshot(epsilon.names)).toEqual({});
    expect(await deployedDefinition(sql, epsilon.names)).toBeNull();
    const plan = await planTenantMigration(sql, epsilon.names, bookshop, { allowDestructive: false });
    expect((await applyMigrations(sql, secrets, epsilon.names, plan, { definition: bookshop })).applied).toHaveLength(plan.steps.length);
  });

  it('keeps every field type exactly, and rows that refer to rows after them', async () => {
    const everything = parseAppDefinition({
      name: 'Everything',
      entities: [
        {
          name: 'item',
          fields: [
            { name: 'label', type: 'string', required: true, unique: true },
            { name: 'note', type: 'text' },
            { name: 'amount', type: 'integer', index: true },
            { name: 'ratio', type: 'number' },
            { name: 'flag', type: 'boolean', default: true },
            { name: 'due', type: 'timestamp' },
            { name: 'kind', type: 'enum', values: ['a', 'b'], default: 'a' },
            { name: 'parent', type: 'reference', entity: 'item' },
            { name: 'tag', type: 'reference', entity: 'tag' },
          ],
        },
        { name: 'tag', fields: [{ name: 'item', type: 'reference', entity: 'item' }] },
      ],
    });
    const zeta = await tenant('zeta', everything);
    const eta = await tenant('eta');
    const run = (statement: string) => sql.query(statement, {}, inTenant(zeta.names));
    await run(`INSERT INTO app.item (label, note, amount, ratio, flag, due, kind) VALUES
      ('first', E'line\\u2028sep 😀 \\\\ \\'', -9007199254740993, 'NaN', false, 'infinity', 'b'),
      ('second', NULL, 0, 'Infinity', NULL, '4713-01-01 00:00:00+00 BC', 'a'),
      ('third', '', 1, 0.1, true, '2024-02-29T23:59:59.999999+05:30', 'a'),
      ('fourth', ' ', NULL, -1e-300, true, '-infinity', 'b')`);
    await run(`INSERT INTO app.tag (item) SELECT id FROM app.item WHERE label = 'fourth'`);
    // Each row refers to a row written after it: its parent, and a tag referring back.
    await run(`UPDATE app.item SET parent = (SELECT max(id) FROM app.item) WHERE label = 'first'`);
    await run(`UPDATE app.item SET parent = (SELECT id FROM app.item WHERE label = 'third') WHERE label = 'second'`);
    await run(`UPDATE app.item SET tag = (SELECT max(id) FROM app.tag)`);
    const before = await snapshot(zeta.names);
    const prefix = `${environment}/zeta/bk-1`;

    await backupTenant({ sql, secrets, store, names: zeta.names, tenantId: 'zeta', backupId: 'bk-1', prefix, reason: 'manual' });
    await restoreTenant({ sql, store, names: eta.names, prefix });
    await restoreTenant({ sql, store, names: zeta.names, prefix });

    expect(await snapshot(eta.names)).toEqual(before);
    expect(await snapshot(zeta.names)).toEqual(before);
    expect(before.item!.join('\n')).toContain('"due":"4713-01-01T00:00:00+00:00 BC"');
    expect(before.item!.join('\n')).toContain('"amount":-9007199254740993');
    expect(before.item!.join('\n')).toContain('"ratio":"NaN"');
  });

  it('takes the same backup id again into the same keys', async () => {
    const prefix = `${environment}/beta/bk-again`;
    const now = new Date('2026-01-02T03:04:05.000Z');
    const first = await backupTenant({ sql, secrets, store, names: beta.names, tenantId: 'beta', backupId: 'bk-again', prefix, reason: 'manual', now });
    const keys = await store.list(`${prefix}/`);

    const second = await backupTenant({ sql, secrets, store, names: beta.names, tenantId: 'beta', backupId: 'bk-again', prefix, reason: 'manual', now });

    expect(second).toEqual(first);
    expect(await store.list(`${prefix}/`)).toEqual(keys);
    expect(keys).toEqual([`${prefix}/data/book.jsonl`, `${prefix}/data/review.jsonl`, `${prefix}/manifest.json`]);
  });

  it('exports every row of every entity as CSV, with the schema beside it', async () => {
    const files = await exportBackup(store, backupOfAlpha);
    const { entities } = await readBackup(store, backupOfAlpha);

    expect([...files.keys()]).toEqual(['schema.json', 'book.csv', 'review.csv']);
    const schema = JSON.parse(files.get('schema.json')!) as { definition: unknown; entities: { entity: string; columns: { name: string; type: string; sqlType: string }[] }[] };
    expect(schema.definition).toEqual(bookshop);
    expect(schema.entities[1]!.columns.map(({ name, type, sqlType }) => `${name} ${type} ${sqlType}`)).toEqual([
      'id integer bigint',
      'book reference bigint',
      'stars integer bigint',
      'created_at timestamp timestamptz',
      'updated_at timestamp timestamptz',
    ]);
    for (const { definition, backup, rows } of entities) {
      const records = parseCsv(files.get(`${definition.name}.csv`)!);
      expect(records[0]).toEqual(backup.columns);
      expect(records.slice(1)).toEqual(rows.map((row) => backup.columns.map((column) => (row[column] === null ? null : String(row[column])))));
    }
    const books = parseCsv(files.get('book.csv')!);
    expect(books.map((record) => record[1])).toEqual(['title', 'Dune', AWKWARD, '', 'Ünïcødé ✓ with pages beyond 2^53']);
    expect(books.map((record) => record[2])).toEqual(['pages', '412', null, '0', '9007199254740993']);
    expect(files.get('book.csv')!.split('\r\n')[0]).toBe('id,title,pages,published,created_at,updated_at');
  });

  it('keeps every file of the backup store readable by its owner only', async () => {
    const modes: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      modes.push(`${((await stat(folder)).mode & 0o777).toString(8)} folder`);
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        if (entry.isDirectory()) await walk(join(folder, entry.name));
        else modes.push(`${((await stat(join(folder, entry.name))).mode & 0o777).toString(8)} file`);
      }
    };
    await walk(join(stateDir, 'backups'));

    expect(modes.filter((mode) => mode.endsWith('file')).length).toBeGreaterThan(10);
    expect(new Set(modes)).toEqual(new Set(['700 folder', '600 file']));
  });
});

/** RFC 4180, strictly: CRLF-terminated records; an empty unquoted field is null, `""` an empty string. */
function parseCsv(text: string): (string | null)[][] {
  const records: (string | null)[][] = [];
  let record: (string | null)[] = [];
  let i = 0;
  while (i < text.length) {
    let value: string | null;
    if (text[i] === '"') {
      let end = i + 1;
      value = '';
      for (;;) {
        const quote = text.indexOf('"', end);
        if (quote === -1) throw new Error('unterminated quoted field');
        value += text.slice(end, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          end = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
    } else {
      const end = text.slice(i).search(/,|\r\n/);
      const raw = end === -1 ? text.slice(i) : text.slice(i, i + end);
      if (/["\r\n]/.test(raw)) throw new Error(`bare ${JSON.stringify(raw)} must be quoted`);
      value = raw === '' ? null : raw;
      i += raw.length;
    }
    record.push(value);
    if (text[i] === ',') {
      i += 1;
    } else if (text.startsWith('\r\n', i)) {
      records.push(record);
      record = [];
      i += 2;
    } else {
      throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`);
    }
  }
  if (record.length > 0) throw new Error('last record has no CRLF');
  return records;
}
