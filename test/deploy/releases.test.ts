import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { currentRelease, publishRelease, releaseHistory, rollBackRelease } from '../../lambdas/deploy/releases.js';
import { FolderAppFiles } from '../../local/adapters/folder-app-files.js';

const id = (n: number) => n.toString(16).padStart(12, '0');

describe('tenant releases in the app files', () => {
  let root: string;
  let files: FolderAppFiles;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'hp-releases-'));
    files = new FolderAppFiles(root);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('publishes a release and makes it current, remembering the previous one', async () => {
    await publishRelease(files, 'tenants/acme', id(1), { 'server.mjs': 'one', 'public/index.html': '<h1>1</h1>' });
    const second = await publishRelease(files, 'tenants/acme', id(2), { 'server.mjs': 'two' });
    expect(second.previous).toBe(id(1));
    expect(await currentRelease(files, 'tenants/acme')).toBe(id(2));
    expect((await files.readFile(`tenants/acme/releases/${id(1)}/public/index.html`))?.toString()).toBe('<h1>1</h1>');
    expect(await releaseHistory(files, 'tenants/acme')).toEqual([id(1), id(2)]);
  });

  it('is idempotent: publishing the same release twice changes nothing', async () => {
    await publishRelease(files, 't', id(1), { 'server.mjs': 'one' });
    const again = await publishRelease(files, 't', id(1), { 'server.mjs': 'one' });
    expect(again.previous).toBe(id(1));
    expect(await releaseHistory(files, 't')).toEqual([id(1)]);
  });

  it('keeps the newest releases and never the ones it needs', async () => {
    for (let n = 1; n <= 7; n++) await publishRelease(files, 't', id(n), { 'server.mjs': String(n) }, { keep: 3 });
    expect((await readdir(join(root, 't', 'releases'))).sort()).toEqual([id(5), id(6), id(7)]);
    expect(await releaseHistory(files, 't')).toEqual([id(5), id(6), id(7)]);
  });

  it('rolls back to the previous release, or refuses when there is none kept', async () => {
    await expect(rollBackRelease(files, 't')).rejects.toThrow('no earlier release');
    await publishRelease(files, 't', id(1), { 'server.mjs': 'one' });
    await publishRelease(files, 't', id(2), { 'server.mjs': 'two' });
    const back = await rollBackRelease(files, 't');
    expect(back).toMatchObject({ releaseId: id(1), previous: id(2) });
    expect(await currentRelease(files, 't')).toBe(id(1));
    await expect(rollBackRelease(files, 't', id(9))).rejects.toThrow('not (or no longer) kept');
  });

  it('refuses unsafe release ids and file paths', async () => {
    await expect(publishRelease(files, 't', '../x', {})).rejects.toThrow('releaseId');
    await expect(publishRelease(files, 't', id(1), { '../escape': 'x' })).rejects.toThrow('not a safe relative path');
    expect(await currentRelease(files, 't')).toBeUndefined();
  });
});

describe('staging and activating apart', () => {
  it('does not serve a staged release until it is activated, and refuses to activate an incomplete one', async () => {
    const { activateRelease, stageRelease } = await import('../../lambdas/deploy/releases.js');
    const root = await mkdtemp(join(tmpdir(), 'hp-stage-'));
    try {
      const files = new FolderAppFiles(root);
      await stageRelease(files, 't', id(1), { 'server.mjs': 'one' });
      expect(await currentRelease(files, 't')).toBeUndefined();
      await activateRelease(files, 't', id(1));
      expect(await currentRelease(files, 't')).toBe(id(1));
      await expect(activateRelease(files, 't', id(2))).rejects.toThrow('not uploaded completely');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
