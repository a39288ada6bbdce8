import type { Redis } from 'ioredis';

/**
 * Closes an ioredis connection: QUIT when it is ready (the server sees a clean goodbye), else, or if
 * QUIT fails, drops it. Never throws: the connection is going either way.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // The connection is going anyway; make sure it is gone.
    }
  }
  dropRedis(client);
}

/**
 * Drops the connection at once, unless it is already over: ioredis's `disconnect()` on a stream that
 * has already closed arms a two-second timer that nothing clears, holding the process open.
 */
export function dropRedis(client: Redis): void {
  if (client.status !== 'end') client.disconnect();
}
