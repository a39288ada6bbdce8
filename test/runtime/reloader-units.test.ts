/** The reloader's pure parts: configuration, the `current` pointer, backoff. */
import { describe, expect, it } from '@jest/globals';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backoffDelayMs } from '../../runtime/reloader/backoff.js';
import { DEFAULT_RELEASE_COMMAND, loadReloaderConfig, ReloaderConfigError, resolveReloaderConfig } from '../../runtime/reloader/config.js';
import { parsePointer, readCurrentPointer } from '../../runtime/reloader/release-pointer.js';
import { bindSocket, holdListeningSocket, startListening } from '../../runtime/reloader/socket-holder.js';
import { makeAppDir } from './support/release-dir.js';

describe('reloader configuration', () => {
  it('fills in the defaults', () => {
    expect(resolveReloaderConfig({ appDir: '/srv/app', port: 8080 })).toEqual({
      appDir: '/srv/app',
      host: '127.0.0.1',
      port: 8080,
      command: [...DEFAULT_RELEASE_COMMAND],
      pollIntervalMs: 1_000,
      health: { mode: 'http', path: '/healthz', timeoutMs: 10_000, intervalMs: 50 },
      drainDeadlineMs: 15_000,
      restartBackoff: { initialMs: 250, maxMs: 30_000, resetAfterMs: 30_000 },
      runtimeHealth: { host: '127.0.0.1', port: 0 },
      exactListenPid: true,
    });
    expect(DEFAULT_RELEASE_COMMAND).toEqual([process.execPath, '{releaseDir}/server.mjs']);
  });

  it('reads the environment', () => {
    const config = loadReloaderConfig({
      HOSTPLANE_APP_DIR: '/srv/app',
      HOST: '0.0.0.0',
      PORT: '8080',
      HOSTPLANE_RELEASE_COMMAND: '["/usr/bin/env","node","{releaseDir}/main.js"]',
      HOSTPLANE_RELOADER_POLL_MS: '500',
      HOSTPLANE_HEALTH_MODE: 'ipc',
      HOSTPLANE_HEALTH_TIMEOUT_MS: '2000',
      HOSTPLANE_RUNTIME_HEALTH_PORT: '9901',
      HOSTPLANE_EXACT_LISTEN_PID: 'false',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      command: ['/usr/bin/env', 'node', '{releaseDir}/main.js'],
      pollIntervalMs: 500,
      health: { mode: 'ipc', path: '/healthz', timeoutMs: 2_000 },
      runtimeHealth: { host: '127.0.0.1', port: 9901 },
      exactListenPid: false,
    });
  });

  it('names every bad variable', () => {
    const attempt = () => loadReloaderConfig({ HOSTPLANE_APP_DIR: 'app', PORT: '80a', HOSTPLANE_RELEASE_COMMAND: 'node x', HOSTPLANE_HEALTH_MODE: 'tcp' });
    expect(attempt).toThrow(ReloaderConfigError);
    expect(attempt).toThrow(/HOSTPLANE_APP_DIR: must be an absolute path/);
    expect(attempt).toThrow(/PORT: must be a whole number/);
    expect(attempt).toThrow(/HOSTPLANE_RELEASE_COMMAND: must be a JSON array of strings/);
    expect(attempt).toThrow(/HOSTPLANE_HEALTH_MODE/);
    expect(() => loadReloaderConfig({ HOSTPLANE_APP_DIR: '/srv/app', PORT: '70000' })).toThrow(/port: Too big|port:.*65535/);
    expect(() => resolveReloaderConfig({ appDir: '/a', port: 1, restartBackoff: { initialMs: 500, maxMs: 100 } })).toThrow(/maxMs/);
  });
});

describe('the current pointer', () => {
  it('names one release folder', () => {
    expect(parsePointer('releases/abc123\n')).toEqual({ id: 'abc123' });
    expect(parsePointer('/mnt/efs/t1/releases/abc123/')).toEqual({ id: 'abc123' });
    expect(parsePointer('abc123')).toEqual({ id: 'abc123' });
    expect(parsePointer('releases/..')).toEqual({ reason: '".." is not a valid release id' });
    expect(parsePointer('elsewhere/abc')).toEqual({ reason: 'does not name a folder under releases/' });
    expect(parsePointer('')).toEqual({ reason: '"" is not a valid release id' });
  });

  it('reads a symlink or a file, and says why it names nothing usable', async () => {
    const appDir = await makeAppDir();
    try {
      expect(await readCurrentPointer(appDir)).toEqual({ kind: 'none' });
      await mkdir(join(appDir, 'releases', 'a1'), { recursive: true });
      await symlink('releases/a1', join(appDir, 'current'));
      expect(await readCurrentPointer(appDir)).toEqual({ kind: 'release', release: { id: 'a1', dir: join(appDir, 'releases', 'a1') } });
      await rm(join(appDir, 'current'));
      await writeFile(join(appDir, 'current'), 'releases/a1\n');
      expect(await readCurrentPointer(appDir)).toMatchObject({ kind: 'release', release: { id: 'a1' } });
      await writeFile(join(appDir, 'current'), 'releases/b2\n');
      expect(await readCurrentPointer(appDir)).toEqual({ kind: 'invalid', raw: 'releases/b2', reason: 'releases/b2 does not exist' });
    } finally {
      await rm(appDir, { recursive: true, force: true });
    }
  });
});

describe('restart backoff', () => {
  it('doubles from the initial delay up to the maximum', () => {
    const policy = { initialMs: 250, maxMs: 3_000 };
    expect([1, 2, 3, 4, 5, 6, 100].map((attempt) => backoffDelayMs(policy, attempt))).toEqual([250, 500, 1_000, 2_000, 3_000, 3_000, 3_000]);
  });
});

describe('the held socket', () => {
  it('reports a port already in use as EADDRINUSE, whether bound or listening', async () => {
    const first = await holdListeningSocket('127.0.0.1', 0);
    try {
      await expect(holdListeningSocket('127.0.0.1', first.port)).rejects.toMatchObject({ name: 'SocketBindError', code: 'EADDRINUSE' });
    } finally {
      first.close();
    }
    // Both bound, neither listening yet (SO_REUSEADDR lets that be): the second to listen loses.
    const a = bindSocket('127.0.0.1', 0);
    const b = (() => {
      try {
        return bindSocket('127.0.0.1', a.port);
      } catch (error) {
        a.close();
        throw error;
      }
    })();
    try {
      await startListening(a);
      await expect(startListening(b)).rejects.toMatchObject({ name: 'SocketBindError', code: 'EADDRINUSE' });
    } finally {
      a.close();
      b.close();
    }
  });
});
