import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pollUntil } from '../support/poll.js';
import { uniqueEnvironment } from '../support/services.js';
import { bookshop, call, killAllApps, startApp, writeRelease, type AppProcess, type ReleaseDir } from './support/app-process.js';
import { runFrontEnd, type FakeElement } from './support/fake-dom.js';
import { createTenantDatabase, dropTenantDatabases, leftovers, migrateTenant, queryAsAdmin, type TenantDatabase } from './support/tenant-database.js';

/**
 * The compiled Bookshop (one `server.mjs`, run by plain `node` from a folder with no
 * node_modules) against a real tenant database: a role of its own that owns schema `app`,
 * with the first migration applied as that role.
 */
describe('the generated Bookshop app on PostgreSQL', () => {
  const prefix = uniqueEnvironment('cg');
  let release: ReleaseDir;
  let tenant: TenantDatabase;
  let app: AppProcess;
  let url: string;

  beforeAll(async () => {
    release = await writeRelease(bookshop());
    tenant = await createTenantDatabase(`${prefix}_shop`);
    await migrateTenant(tenant, bookshop());
    ({ app, url } = await startApp(release, { DATABASE_URL: tenant.url, HOSTPLANE_RELEASE_ID: release.compiled.releaseId }));
  });

  afterAll(async () => {
    await killAllApps();
    await dropTenantDatabases(prefix);
    await release?.remove();
    expect(await leftovers(prefix)).toEqual([]);
  });

  const post = (path: string, body: unknown) => call(url, 'POST', path, body);

  it('answers /healthz (the database answers select 1) and /version', async () => {
    expect(await call(url, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call(url, 'GET', '/version')).toMatchObject({
      status: 200,
      body: { release: release.compiled.releaseId, app: 'Bookshop' },
    });
  });

  it('creates a book: 201 with the row and its id, defaults filled, as a number', async () => {
    const created = await post('/api/book', { title: 'Dune', pages: 412 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'Dune', pages: 412, published: false });
    const row = created.body as Record<string, unknown>;
    expect(typeof row.id).toBe('number');
    expect(created.headers.get('location')).toBe(`/api/book/${String(row.id)}`);
    expect(Object.keys(row)).toEqual(['id', 'title', 'pages', 'published', 'created_at', 'updated_at']);
    expect(new Date(String(row.created_at)).toISOString()).toBe(row.created_at);
    // Really in the tenant's schema, written by the tenant's role.
    const rows = await queryAsAdmin<{ title: string }>(tenant, 'SELECT title FROM app.book WHERE id = $1', [row.id]);
    expect(rows).toEqual([{ title: 'Dune' }]);
  });

  it('lists with an equality filter parsed by the field type', async () => {
    await post('/api/book', { title: 'Emma', pages: 300, published: true });
    const dune = await call(url, 'GET', '/api/book?title=Dune');
    expect(dune.status).toBe(200);
    expect(dune.body).toMatchObject({ items: [{ title: 'Dune' }], next: null });
    const published = (await call(url, 'GET', '/api/book?published=true')).body as { items: { title: string }[] };
    expect(published.items.map((item) => item.title)).toEqual(['Emma']);
    const pages = (await call(url, 'GET', '/api/book?pages=412&published=false')).body as { items: { title: string }[] };
    expect(pages.items.map((item) => item.title)).toEqual(['Dune']);
    expect(await call(url, 'GET', '/api/book?pages=many')).toMatchObject({ status: 400, body: { field: 'pages' } });
    expect(await call(url, 'GET', '/api/book?published=yes')).toMatchObject({ status: 400, body: { field: 'published' } });
    expect(await call(url, 'GET', '/api/book?colour=red')).toMatchObject({ status: 400, body: { field: 'colour' } });
  });

  it('pages with limit and an opaque next cursor (keyset on id)', async () => {
    const titles = ['P1', 'P2', 'P3', 'P4', 'P5'];
    for (const title of titles) expect((await post('/api/book', { title, pages: 99 })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer = await call(url, 'GET', `/api/book?pages=99&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(answer.status).toBe(200);
      const page = answer.body as { items: { title: string }[]; next: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((item) => item.title));
      cursor = page.next;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual(titles);
    expect(pages).toBe(3);

    expect(await call(url, 'GET', '/api/book?limit=0')).toMatchObject({ status: 400, body: { field: 'limit' } });
    expect(await call(url, 'GET', '/api/book?limit=201')).toMatchObject({ status: 400, body: { field: 'limit' } });
    expect(await call(url, 'GET', '/api/book?cursor=not-a-cursor')).toMatchObject({ status: 400, body: { field: 'cursor' } });
    const all = (await call(url, 'GET', '/api/book?limit=&cursor=')).body as { items: unknown[]; next: string | null };
    expect(all.items.length).toBe(7);
    expect(all.next).toBeNull();
  });

  it('gets, patches (updated_at moves) and deletes by id; 404 for unknown ids', async () => {
    const created = (await post('/api/book', { title: 'Ulysses' })).body as Record<string, unknown>;
    const path = `/api/book/${String(created.id)}`;
    expect(await call(url, 'GET', path)).toMatchObject({ status: 200, body: created });

    const patched = await call(url, 'PATCH', path, { pages: 730, published: true });
    expect(patched.status).toBe(200);
    const after = patched.body as Record<string, unknown>;
    expect(after).toMatchObject({ id: created.id, title: 'Ulysses', pages: 730, published: true, created_at: created.created_at });
    expect(Date.parse(String(after.updated_at))).toBeGreaterThan(Date.parse(String(created.updated_at)));
    expect(await call(url, 'PATCH', path, { pages: null })).toMatchObject({ status: 200, body: { pages: null } });

    expect(await call(url, 'DELETE', path)).toMatchObject({ status: 204, body: undefined });
    expect(await call(url, 'GET', path)).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await call(url, 'PATCH', path, { pages: 1 })).toMatchObject({ status: 404 });
    expect(await call(url, 'DELETE', path)).toMatchObject({ status: 404 });
    expect(await call(url, 'GET', '/api/book/99999999')).toMatchObject({ status: 404 });
    expect(await call(url, 'GET', '/api/book/abc')).toMatchObject({ status: 404 });
    expect(await call(url, 'GET', '/api/author')).toMatchObject({ status: 404 });
    expect(await call(url, 'PUT', path, {})).toMatchObject({ status: 405 });
  });

  it('refuses a body that breaks the definition with 400 naming the field', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ pages: 10 }, 'title', /is required/],
      [{ title: 42 }, 'title', /must be a string/],
      [{ title: 'x', pages: 'ten' }, 'pages', /whole number/],
      [{ title: 'x', pages: 1.5 }, 'pages', /whole number/],
      [{ title: 'x', pages: 2 ** 53 }, 'pages', /between/],
      [{ title: 'x', published: 'yes' }, 'published', /true or false/],
      [{ title: 'x', colour: 'red' }, 'colour', /not a field of book/],
      [{ title: 'x', id: 7 }, 'id', /set by the platform/],
      [{ title: null }, 'title', /required/],
      [{ title: 'x'.repeat(256) }, 'title', /at most 255 characters/],
      [[1, 2], 'body', /JSON object/],
      ['{"title": ', 'body', /not valid JSON/],
    ];
    for (const [body, field, message] of cases) {
      const answer = await post('/api/book', body);
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(answer.body).toMatchObject({ error: 'invalid_input', field });
      expect(String((answer.body as { message: string }).message)).toMatch(message);
    }
    const book = (await post('/api/book', { title: 'Kept' })).body as { id: number };
    expect(await call(url, 'PATCH', `/api/book/${book.id}`, { title: null })).toMatchObject({ status: 400, body: { field: 'title' } });
    expect(await call(url, 'PATCH', `/api/book/${book.id}`, { created_at: '2020-01-01T00:00:00Z' })).toMatchObject({
      status: 400,
      body: { field: 'created_at' },
    });
  });

  it('checks references: a review of a missing book is 400 naming book; a reviewed book cannot be deleted', async () => {
    const missing = await post('/api/review', { book: 987654, stars: 5 });
    expect(missing).toMatchObject({ status: 400, body: { error: 'invalid_input', field: 'book' } });
    expect((missing.body as { message: string }).message).toMatch(/book: refers to a book that does not exist/);
    expect(await post('/api/review', { book: 0, stars: 5 })).toMatchObject({ status: 400, body: { field: 'book' } });
    expect(await post('/api/review', { book: 1 })).toMatchObject({ status: 400, body: { field: 'stars' } });

    const book = (await post('/api/book', { title: 'Reviewed' })).body as { id: number };
    const review = await post('/api/review', { book: book.id, stars: 4 });
    expect(review).toMatchObject({ status: 201, body: { book: book.id, stars: 4 } });
    expect((await call(url, 'GET', `/api/review?book=${book.id}`)).body).toMatchObject({ items: [{ stars: 4 }] });
    const refused = await call(url, 'DELETE', `/api/book/${book.id}`);
    expect(refused).toMatchObject({ status: 409, body: { error: 'conflict' } });
    expect((refused.body as { message: string }).message).toMatch(/review\.book/);
  });

  it('serves the front end', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="app.js"></script>');
    const script = await fetch(`${url}/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('"name": "review"');
    const etag = script.headers.get('etag')!;
    expect((await fetch(`${url}/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('has a front end that lists, creates and edits through the API, and shows errors by field', async () => {
    const page = runFrontEnd(await (await fetch(`${url}/app.js`)).text(), url);
    expect(page.nav.all().map((button) => button.text())).toEqual(['book', 'review']);
    await pollUntil(() => (page.main.text().includes('Dune') ? true : undefined), { what: 'the book list' });
    expect(page.main.find('h2').text()).toBe('book');
    expect(page.main.text()).not.toMatch(/\b(?:null|undefined|NaN)\b|\[object/);

    const field = (form: FakeElement, name: string) => form.find(name === 'published' ? 'select' : 'input', (input) => input.getAttribute('name') === name);
    let form = page.main.find('form', (element) => element.text().startsWith('New book'));
    await form.dispatch('submit');
    expect(form.find('p').text()).toBe('title: is required');
    expect(field(form, 'title').getAttribute('aria-invalid')).toBe('true');

    field(form, 'title').value = 'From the page';
    field(form, 'pages').value = '321';
    field(form, 'published').value = 'true';
    await form.dispatch('submit');
    const created = (await call(url, 'GET', `/api/book?title=${encodeURIComponent('From the page')}`)).body as { items: { id: number }[] };
    expect(created.items).toMatchObject([{ pages: 321, published: true }]);
    expect(page.main.text()).toContain('From the page');

    const row = page.main.find('tr', (tr) => tr.text().includes('From the page'));
    await row.find('button', (button) => button.text() === 'Edit').dispatch('click');
    form = page.main.find('form', (element) => element.text().startsWith(`Edit book ${created.items[0]!.id}`));
    expect(field(form, 'pages').value).toBe('321');
    field(form, 'pages').value = '';
    await form.dispatch('submit');
    expect(await call(url, 'GET', `/api/book/${created.items[0]!.id}`)).toMatchObject({ body: { title: 'From the page', pages: null, published: true } });
  });

  it('logged nothing alarming', () => {
    expect(app.output()).not.toMatch(/failed|Error/);
  });
});
