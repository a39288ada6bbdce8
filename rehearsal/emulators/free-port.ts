import { createServer } from 'node:net';

/**
 * A loopback TCP port nobody listens on right now. Another process may take it before the caller
 * binds it, so a caller that starts a server on it retries with a fresh port when the bind fails.
 */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port was given');
  return address.port;
}

/** Polls `check` until it returns true, or throws `failure()` at the deadline. Never a fixed sleep. */
export async function waitFor(check: () => Promise<boolean>, deadlineMs: number, failure: () => Error, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw failure();
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
