/** `src/cache.ts` of a generated app: reads by id, cached in the tenant's own key prefix. */
export const CACHE_SOURCE = String.raw`import type { Redis as RedisClient } from 'ioredis';
import type { CacheConfig } from './config.js';
import type { ApiRow } from './types.js';

/**
 * Rows read by id, kept a short while (TTL) under <prefix><model tag>:<entity>:<id> and deleted
 * on every write. The cache only ever helps: when it fails or is slow, reads go to the
 * database and the failure is logged. A read that races a write may put back the old row;
 * the TTL bounds how long it shows.
 */
export interface RowCache {
  get(entity: string, id: number): Promise<ApiRow | undefined>;
  set(entity: string, id: number, row: ApiRow): Promise<void>;
  forget(entity: string, id: number): Promise<void>;
  close(): Promise<void>;
}

export async function createCache(config: CacheConfig, tag: string): Promise<RowCache> {
  const { Redis } = await import('ioredis');
  const client: RedisClient = new Redis(config.url, {
    // A tenant's cache user may run neither INFO (the ready check) nor SELECT: it does not need to.
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 500,
  });
  let lastLogged = 0;
  const complain = (what: string, error: unknown) => {
    const now = Date.now();
    if (now - lastLogged < 10_000) return;
    lastLogged = now;
    process.stderr.write('cache: ' + what + ': ' + (error instanceof Error ? error.message : String(error)) + '\n');
  };
  client.on('error', (error: unknown) => complain('connection', error));
  // Start with the cache in use when it answers soon; never hold the app up for it.
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, 2_000);
    client.once('ready', done);
  });
  const key = (entity: string, id: number) => config.prefix + tag + ':' + entity + ':' + id;

  return {
    async get(entity, id) {
      try {
        const text = await client.get(key(entity, id));
        return text === null ? undefined : (JSON.parse(text) as ApiRow);
      } catch (error) {
        complain('get', error);
        return undefined;
      }
    },
    async set(entity, id, row) {
      try {
        await client.set(key(entity, id), JSON.stringify(row), 'EX', config.ttlSeconds);
      } catch (error) {
        complain('set', error);
      }
    },
    async forget(entity, id) {
      try {
        await client.del(key(entity, id));
      } catch (error) {
        complain('delete', error);
      }
    },
    async close() {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
`;
