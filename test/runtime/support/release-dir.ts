/** Builds a tenant app folder for reloader tests: releases made from the fixture app, and `current` flips. */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_APP = fileURLToPath(new URL('../fixtures/app.mjs', import.meta.url));

export type FixtureMode = 'ok' | 'unhealthy' | 'exit-on-start';

export function makeAppDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'hostplane-reloader-'));
}

/** Writes `releases/<id>/server.mjs` (the fixture app) and its `release.json`. */
export async function publishRelease(appDir: string, id: string, mode: FixtureMode = 'ok'): Promise<void> {
  const dir = join(appDir, 'releases', id);
  await mkdir(dir, { recursive: true });
  await copyFile(FIXTURE_APP, join(dir, 'server.mjs'));
  await writeFile(join(dir, 'release.json'), JSON.stringify({ mode }));
}

/** Points `current` at a release atomically (write-new-then-rename), as a symlink or as a file naming it. */
export async function flipCurrent(appDir: string, id: string, form: 'symlink' | 'file' = 'symlink'): Promise<void> {
  const temporary = join(appDir, `.current.${randomBytes(4).toString('hex')}`);
  if (form === 'symlink') await symlink(join('releases', id), temporary);
  else await writeFile(temporary, `releases/${id}\n`);
  await rename(temporary, join(appDir, 'current'));
}
