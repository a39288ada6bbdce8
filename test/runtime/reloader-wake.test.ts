/** A push notice (the tenant's cache channel) wakes the watcher long before its next poll; readiness over IPC. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { startReloader, type Reloader } from '../../runtime/reloader/reloader.js';
import { readReleaseStatus } from '../../runtime/reloader/status-file.js';
import { pollUntil } from '../support/poll.js';
import { get } from './support/http-load.js';
import { flipCurrent, makeAppDir, publishRelease } from './support/release-dir.js';

describe('reloader: wake trigger and IPC readiness', () => {
  let appDir: string;
  let reloader: Reloader | undefined;
  let notice: (() => void) | undefined;
  let unsubscribed = false;

  beforeAll(async () => {
    appDir = await makeAppDir();
    await publishRelease(appDir, 'v1');
    await flipCurrent(appDir, 'v1');
    reloader = await startReloader(
      // A poll interval no test would wait for: only the notice can reveal a new release.
      { appDir, port: 0, pollIntervalMs: 600_000, health: { mode: 'ipc', timeoutMs: 5_000 } },
      {
        log: () => undefined,
        wakeOn: (wake) => {
          notice = wake;
          return () => (unsubscribed = true);
        },
      },
    );
  });

  afterAll(async () => {
    await reloader?.stop();
    await rm(appDir, { recursive: true, force: true });
  });

  it('swaps as soon as the notice arrives, the new process having said it is ready over IPC', async () => {
    await pollUntil(async () => ((await readReleaseStatus(appDir))?.releaseId === 'v1' ? true : undefined), { what: 'v1' });
    await publishRelease(appDir, 'v2');
    await flipCurrent(appDir, 'v2');
    expect(notice).toBeDefined();
    notice?.();
    const status = await pollUntil(async () => {
      const current = await readReleaseStatus(appDir);
      return current?.releaseId === 'v2' ? current : undefined;
    }, { what: 'v2 after the notice', timeoutMs: 10_000 });
    expect(status.state).toBe('healthy');
    await pollUntil(async () => ((await get(reloader!.port, '/')).body === 'v2' ? true : undefined), { what: 'v2 to answer' });
  });

  it('unsubscribes the trigger when it stops', async () => {
    await reloader?.stop();
    expect(unsubscribed).toBe(true);
  });
});
