import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { parseAppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { tenantAclRules } from '../../lambdas/ports/cache-acl.js';
import { TEST_REDIS_URL, uniqueEnvironment } from '../support/services.js';
import { call, killAllApps, startApp, writeRelease, type ReleaseDir } from './support/app-process.js';
import { createTenantDatabase, dropTenantDatabases, leftovers, migrateTenant, type TenantDatabase } from './support/tenant-database.js';

/** Every field type, unique and enum constraints, a self-reference, a field named like a paging parameter. */
const catalogue = parseAppDefinition({
  name: 'Catalogue — «every type»',
  entities: [
    {
      name: 'author',
      fields: [
        { name: 'name', type: 'string', required: true, unique: true },
        { name: 'bio', type: 'text' },
        { name: 'born', type: 'timestamp' },
        { name: 'rating', type: 'number', default: 2.5 },
        { name: 'genre', type: 'enum', values: ['fiction', 'poetry', "children's"], default: 'fiction', required: true },
        { name: 'active', type: 'boolean', required: true, default: true },
        { name: 'books', type: 'integer', index: true },
        { name: 'mentor', type: 'reference', entity: 'author' },
        { name: 'cursor', type: 'string' },
      ],
    },
  ],
});

interface Author {
  id: number;
  name: string;
  [field: string]: unknown;
}

describe('a generated app with every field type, and its cache', () => {
  const prefix = uniqueEnvironment('cg');
  const keyPrefix = `t:${prefix}:`;
  const cacheUser = `${prefix}-cache`;
  const cachePassword = `pw-${prefix}-0123456789abcdef`;
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let release: ReleaseDir;
  let tenant: TenantDatabase;
  let url: string;
  let cachedUrl: string;

  beforeAll(async () => {
    release = await writeRelease(catalogue);
    tenant = await createTenantDatabase(`${prefix}_cat`);
    await migrateTenant(tenant, catalogue);
    await redis.connect();
    // The tenant's cache user, as provisioning makes it: its own keys only, no INFO, no SELECT.
    await redis.call('ACL', 'SETUSER', cacheUser, ...tenantAclRules({ userName: cacheUser, password: cachePassword, keyPattern: `${keyPrefix}*`, channelPattern: `${keyPrefix}*` }));
    const cacheUrl = new URL(TEST_REDIS_URL);
    cacheUrl.username = cacheUser;
    cacheUrl.password = cachePassword;
    ({ url } = await startApp(release, { ...tenant.pgEnv }));
    ({ url: cachedUrl } = await startApp(release, { ...tenant.pgEnv, REDIS_URL: cacheUrl.toString(), HOSTPLANE_CACHE_PREFIX: keyPrefix }));
  });

  afterAll(async () => {
    await killAllApps();
    if (redis.status === 'ready') {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.call('ACL', 'DELUSER', cacheUser);
    }
    redis.disconnect();
    await dropTenantDatabases(prefix);
    await release?.remove();
    expect(await leftovers(prefix)).toEqual([]);
  });

  const create = async (body: Record<string, unknown>): Promise<Author> => {
    const answer = await call(url, 'POST', '/api/author', body);
    expect({ status: answer.status, body: answer.body }).toMatchObject({ status: 201 });
    return answer.body as Author;
  };

  it('stores and returns each type: defaults, text, numbers, timestamps normalised to UTC', async () => {
    const plain = await create({ name: 'Plain' });
    expect(plain).toMatchObject({ rating: 2.5, genre: 'fiction', active: true, books: null, bio: null, born: null, mentor: null, cursor: null });
    const full = await create({
      name: 'Zoë “Full” Ørsted',
      bio: 'line one\nline two — ✓',
      born: '1970-01-31T13:00:00+01:00',
      rating: -0.125,
      genre: "children's",
      active: false,
      books: Number.MAX_SAFE_INTEGER,
      mentor: plain.id,
      cursor: 'c1',
    });
    expect(full).toMatchObject({
      name: 'Zoë “Full” Ørsted',
      bio: 'line one\nline two — ✓',
      born: '1970-01-31T12:00:00.000Z',
      rating: -0.125,
      genre: "children's",
      active: false,
      books: Number.MAX_SAFE_INTEGER,
      mentor: plain.id,
    });
    expect(await call(url, 'GET', `/api/author/${full.id}`)).toMatchObject({ status: 200, body: full });
  });

  it('refuses bad enums, timestamps, numbers and text with 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'a', genre: 'drama' }, 'genre'],
      [{ name: 'a', genre: null }, 'genre'],
      [{ name: 'a', born: '2024-02-30T00:00:00Z' }, 'born'],
      [{ name: 'a', born: '2024-01-31' }, 'born'],
      [{ name: 'a', born: 1700000000 }, 'born'],
      [{ name: 'a', rating: '2.5' }, 'rating'],
      [{ name: 'a', bio: 'nul \u0000 inside' }, 'bio'],
      [{ name: 'a', active: null }, 'active'],
      [{ name: 'a', mentor: -1 }, 'mentor'],
      [{ name: 'a', mentor: 424242 }, 'mentor'],
    ];
    for (const [body, field] of cases) {
      const answer = await call(url, 'POST', '/api/author', body);
      expect({ body, status: answer.status, field: (answer.body as { field?: string }).field }).toEqual({ body, status: 400, field });
    }
  });

  it('answers 409 naming the field on a unique violation, and when a referred-to row is deleted', async () => {
    const first = await create({ name: 'Unique One' });
    expect(await call(url, 'POST', '/api/author', { name: 'Unique One' })).toMatchObject({ status: 409, body: { error: 'conflict', field: 'name' } });
    const other = await create({ name: 'Unique Two' });
    expect(await call(url, 'PATCH', `/api/author/${other.id}`, { name: 'Unique One' })).toMatchObject({ status: 409, body: { field: 'name' } });
    await create({ name: 'Mentee', mentor: first.id });
    const refused = await call(url, 'DELETE', `/api/author/${first.id}`);
    expect(refused).toMatchObject({ status: 409 });
    expect((refused.body as { message: string }).message).toMatch(/author\.mentor/);
  });

  it('filters on each type; `cursor` is a field here, so paging takes `_cursor`', async () => {
    const mentor = await create({ name: 'Filter Mentor', genre: 'poetry', born: '1999-12-31T23:59:59Z', rating: 4.75, books: 3, cursor: 'yes' });
    await create({ name: 'Filter Mentee', mentor: mentor.id, cursor: 'yes' });
    const names = async (query: string) => {
      const answer = await call(url, 'GET', `/api/author?${query}`);
      expect({ query, status: answer.status }).toEqual({ query, status: 200 });
      return (answer.body as { items: Author[] }).items.map((item) => item.name);
    };
    expect(await names('genre=poetry')).toEqual(['Filter Mentor']);
    expect(await names(`born=${encodeURIComponent('2000-01-01T00:59:59+01:00')}`)).toEqual(['Filter Mentor']);
    expect(await names('rating=4.75')).toEqual(['Filter Mentor']);
    expect(await names('books=3&active=true')).toEqual(['Filter Mentor']);
    expect(await names(`mentor=${mentor.id}`)).toEqual(['Filter Mentee']);
    expect(await names('cursor=yes')).toEqual(['Filter Mentor', 'Filter Mentee']);

    const first = (await call(url, 'GET', '/api/author?cursor=yes&_limit=1')).body as { items: Author[]; next: string };
    expect(first.items.map((item) => item.name)).toEqual(['Filter Mentor']);
    const second = (await call(url, 'GET', `/api/author?cursor=yes&_limit=1&_cursor=${first.next}`)).body as { items: Author[]; next: null };
    expect(second).toMatchObject({ items: [{ name: 'Filter Mentee' }], next: null });

    expect(await call(url, 'GET', '/api/author?genre=drama')).toMatchObject({ status: 400, body: { field: 'genre' } });
    expect(await call(url, 'GET', '/api/author?born=yesterday')).toMatchObject({ status: 400, body: { field: 'born' } });
    expect(await call(url, 'GET', '/api/author?genre=poetry&genre=fiction')).toMatchObject({ status: 400, body: { field: 'genre' } });
  });

  it('caches reads by id under the tenant prefix, and forgets them on write', async () => {
    const author = await create({ name: 'Cached', books: 1 });
    const path = `/api/author/${author.id}`;
    expect((await call(url, 'GET', path)).headers.get('x-cache')).toBeNull();

    const miss = await call(cachedUrl, 'GET', path);
    expect(miss).toMatchObject({ status: 200, body: { books: 1 } });
    expect(miss.headers.get('x-cache')).toBe('miss');
    const keys = await redis.keys(`${keyPrefix}*:author:${author.id}`);
    expect(keys).toHaveLength(1);
    expect(await redis.ttl(keys[0]!)).toBeGreaterThan(0);
    expect((await call(cachedUrl, 'GET', path)).headers.get('x-cache')).toBe('hit');

    expect(await call(cachedUrl, 'PATCH', path, { books: 2 })).toMatchObject({ status: 200, body: { books: 2 } });
    expect(await redis.exists(keys[0]!)).toBe(0);
    const fresh = await call(cachedUrl, 'GET', path);
    expect(fresh).toMatchObject({ status: 200, body: { books: 2 } });
    expect(fresh.headers.get('x-cache')).toBe('miss');

    expect(await call(cachedUrl, 'DELETE', path)).toMatchObject({ status: 204 });
    expect(await redis.exists(keys[0]!)).toBe(0);
    expect(await call(cachedUrl, 'GET', path)).toMatchObject({ status: 404 });
  });
});
