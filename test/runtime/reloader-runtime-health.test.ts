/**
 * `/__runtime/healthz` tells "app broken" (runtime ok, app failed) from "runtime broken" (it cannot
 * read `current`, while the app may still serve).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { startReloader, type Reloader } from '../../runtime/reloader/reloader.js';
import type { RuntimeHealthReport } from '../../runtime/reloader/runtime-health.js';
import { readReleaseStatus } from '../../runtime/reloader/status-file.js';
import { pollUntil } from '../support/poll.js';
import { get } from './support/http-load.js';
import { flipCurrent, makeAppDir, publishRelease } from './support/release-dir.js';

async function runtimeHealth(reloader: Reloader): Promise<{ status: number; body: RuntimeHealthReport }> {
  const url = new URL(reloader.runtimeHealthUrl);
  const reply = await get(Number(url.port), url.pathname);
  return { status: reply.status, body: JSON.parse(reply.body) as RuntimeHealthReport };
}

describe('reloader: runtime health apart from app health', () => {
  let appDir: string;
  let reloader: Reloader | undefined;

  beforeAll(async () => {
    appDir = await makeAppDir();
    await publishRelease(appDir, 'broken', 'exit-on-start');
    await flipCurrent(appDir, 'broken');
    reloader = await startReloader(
      { appDir, port: 0, pollIntervalMs: 100, health: { timeoutMs: 2_000 }, restartBackoff: { initialMs: 100, maxMs: 400 } },
      { log: () => undefined },
    );
  });

  afterAll(async () => {
    await reloader?.stop();
    await rm(appDir, { recursive: true, force: true });
  });

  it('answers 200 with the app failing: the runtime is fine, the app is not', async () => {
    const { status, body } = await pollUntil(
      async () => {
        const health = await runtimeHealth(reloader!);
        return health.body.app.state === 'failed' ? health : undefined;
      },
      { what: 'the app to be reported failed' },
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', reasons: [], app: { state: 'failed', targetReleaseId: 'broken', lastFailure: { releaseId: 'broken' } } });
    expect(body.app.lastFailure?.reason).toMatch(/exited with code 1/);
    expect(await readReleaseStatus(appDir)).toMatchObject({ releaseId: 'broken', state: 'failed' });
  });

  it('starts the next release when nothing serves', async () => {
    await publishRelease(appDir, 'fixed');
    await flipCurrent(appDir, 'fixed');
    reloader!.wake();
    await pollUntil(async () => ((await readReleaseStatus(appDir))?.releaseId === 'fixed' ? true : undefined), { what: 'the fixed release' });
    expect((await get(reloader!.port, '/')).body).toBe('fixed');
    expect((await runtimeHealth(reloader!)).body.app).toMatchObject({ state: 'healthy', releaseId: 'fixed' });
  });

  it('answers 503 when it cannot read current, while the app keeps serving', async () => {
    // A `releases` link that loops: reading the pointer fails (ELOOP), as an unreachable EFS mount would (EIO).
    await rename(join(appDir, 'releases'), join(appDir, 'releases.moved'));
    await symlink('releases', join(appDir, 'releases'));
    const { status, body } = await pollUntil(
      async () => {
        const health = await runtimeHealth(reloader!);
        return health.status === 503 ? health : undefined;
      },
      { what: 'the runtime to report itself degraded' },
    );
    expect(status).toBe(503);
    expect(body.status).toBe('degraded');
    expect(body.reasons.join('\n')).toMatch(/cannot read .*current: .*ELOOP/);
    expect(body.app).toMatchObject({ state: 'healthy', releaseId: 'fixed' });
    expect((await get(reloader!.port, '/')).body).toBe('fixed');
  });

  it('answers 404 off its path', async () => {
    const url = new URL(reloader!.runtimeHealthUrl);
    expect((await get(Number(url.port), '/healthz')).status).toBe(404);
  });
});
