import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { tenantResourceNames } from '../../lambdas/domain/naming.js';
import type { TenantId } from '../../lambdas/domain/tenant-id.js';
import type { TestControlPlane } from './control-plane.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './services.js';

/** Every resource of the tenant that still exists, looked up directly (not through the adapters under test). */
export async function tenantResidue(cp: TestControlPlane, tenantId: string): Promise<string[]> {
  const names = tenantResourceNames({ environment: cp.environment, cell: 'local' }, tenantId as TenantId);
  const left: string[] = [];

  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    if ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [names.database])).rowCount) left.push('database');
    if ((await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [names.role])).rowCount) left.push('role');
  } finally {
    await client.end();
  }

  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    if (((await redis.acl('USERS')) as string[]).includes(names.cacheUser)) left.push('cache user');
  } finally {
    redis.disconnect();
  }

  const secretsDir = join(cp.stateDir, 'secrets', ...names.databaseSecret.split('/').slice(0, -1));
  if (existsSync(join(secretsDir, 'database.json')) || existsSync(join(secretsDir, 'cache.json')) || existsSync(secretsDir)) {
    left.push('secrets');
  }
  if (await cp.compute.describeService(names.computeService)) left.push('process');
  if (await cp.edge.getRoute(names.hostLabel)) left.push('route');
  if (await cp.edge.staticAssetsExist(names.assetsBucket)) left.push('static assets');
  if (existsSync(join(cp.stateDir, 'app-files', names.appFilesFolder))) left.push('app files');
  return left;
}
