import type { NoticesPort } from '../../lambdas/ports/notices.js';
import { RedisNotices } from '../adapters/redis-notices.js';
import type { CloudContext } from '../cloud-context.js';
import { integerVariable, requireVariable } from '../cloud-environment.js';

/** PUBLISH on the cell's cache over TLS, as the control plane's own cache user. */
export function noticesPort(context: CloudContext): NoticesPort {
  const { env } = context;
  const neededFor = 'the notices port (PUBLISH on the cell cache)';
  const secretArn = requireVariable(env, 'cacheNoticesSecretArn', neededFor);
  return new RedisNotices({
    host: requireVariable(env, 'cacheHost', neededFor),
    port: integerVariable(env, 'cachePort', neededFor, 1, 65_535),
    tls: true,
    credentials: async () => JSON.parse(await context.secretString(secretArn)) as { username: string; password: string },
  });
}
