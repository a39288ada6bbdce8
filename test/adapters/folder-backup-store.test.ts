import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FolderBackupStore } from '../../local/adapters/folder-backup-store.js';

describe('FolderBackupStore', () => {
  let stateDir: string;
  let root: string;
  let store: FolderBackupStore;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hostplane-backups-'));
    root = join(stateDir, 'backups');
    store = new FolderBackupStore(root);
  });

  afterAll(async () => {
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('writes an object, creating its folders, and reads it back', async () => {
    await store.write('dev/acme/bk-1/manifest.json', '{"format":"x"}');
    await store.write('dev/acme/bk-1/data/book.jsonl', new Uint8Array([0, 1, 2, 255]));

    expect((await store.read('dev/acme/bk-1/manifest.json'))?.toString('utf8')).toBe('{"format":"x"}');
    expect([...((await store.read('dev/acme/bk-1/data/book.jsonl')) ?? [])]).toEqual([0, 1, 2, 255]);
    expect(await store.read('dev/acme/bk-1/missing.json')).toBeUndefined();
    expect(await store.read('dev/acme/bk-1')).toBeUndefined();
    expect(await store.read('dev/acme/bk-1/manifest.json/below-a-file')).toBeUndefined();
  });

  it('keeps files readable by their owner only (0600) in folders of 0700', async () => {
    await store.write('dev/private/bk-1/data/a.jsonl', 'x\n');

    for (const folder of [root, join(root, 'dev'), join(root, 'dev/private'), join(root, 'dev/private/bk-1/data')]) {
      expect(((await stat(folder)).mode & 0o777).toString(8)).toBe('700');
    }
    expect(((await stat(join(root, 'dev/private/bk-1/data/a.jsonl'))).mode & 0o777).toString(8)).toBe('600');
  });

  it('replaces an object whole and leaves no temporary file behind', async () => {
    await store.write('dev/acme/bk-2/manifest.json', 'first');
    await store.write('dev/acme/bk-2/manifest.json', 'second');

    expect((await store.read('dev/acme/bk-2/manifest.json'))?.toString()).toBe('second');
    expect(await readdir(join(root, 'dev/acme/bk-2'))).toEqual(['manifest.json']);
  });

  it('lists keys by string prefix, sorted, never a write in progress', async () => {
    await store.write('list/acme/bk-2/manifest.json', '2');
    await store.write('list/acme/bk-1/manifest.json', '1');
    await store.write('list/acme/bk-1/data/b.jsonl', 'b');
    await store.write('list/acme2/bk-1/manifest.json', 'other tenant');
    await writeFile(join(root, 'list/acme/bk-1/.manifest.json.0123456789ab.tmp'), 'half');

    expect(await store.list('list/acme/')).toEqual(['list/acme/bk-1/data/b.jsonl', 'list/acme/bk-1/manifest.json', 'list/acme/bk-2/manifest.json']);
    expect(await store.list('list/acme')).toEqual([
      'list/acme/bk-1/data/b.jsonl',
      'list/acme/bk-1/manifest.json',
      'list/acme/bk-2/manifest.json',
      'list/acme2/bk-1/manifest.json',
    ]);
    expect(await store.list('list/acme/bk-1/m')).toEqual(['list/acme/bk-1/manifest.json']);
    expect(await store.list('list/nobody/')).toEqual([]);
    expect(await store.list('')).toContain('list/acme2/bk-1/manifest.json');
  });

  it('removes by prefix, says how many, and prunes the folders it empties', async () => {
    await store.write('rm/acme/bk-1/manifest.json', 'm');
    await store.write('rm/acme/bk-1/data/a.jsonl', 'a');
    await store.write('rm/acme/bk-1/data/b.jsonl', 'b');
    await store.write('rm/acme/bk-10/manifest.json', 'kept');
    await writeFile(join(root, 'rm/acme/bk-1/data/.c.jsonl.0123456789ab.tmp'), 'left by a crashed write');

    expect(await store.remove('rm/acme/bk-1/')).toBe(3);
    expect(await store.remove('rm/acme/bk-1/')).toBe(0);
    expect(await readdir(join(root, 'rm/acme'))).toEqual(['bk-10']);
    expect(await store.remove('rm/acme/bk-10/manifest.json')).toBe(1);
    expect(await readdir(root)).not.toContain('rm');
  });

  it('refuses keys and prefixes that could point anywhere else', async () => {
    for (const key of ['', '/abs/key', '../up', 'a/../b', 'a//b', 'a/./b', 'a/', '.hidden', 'a/.b', 'a\\b', 'a/b c', `a/${'x'.repeat(1100)}`]) {
      await expect(store.write(key, 'x')).rejects.toThrow('is not a backup key');
      await expect(store.read(key)).rejects.toThrow('is not a backup key');
    }
    await expect(store.list('../')).rejects.toThrow('is not a backup key prefix');
    await expect(store.list('/etc/')).rejects.toThrow('is not a backup key prefix');
    await expect(store.remove('')).rejects.toThrow('empty backup key prefix');
    await expect(store.remove('a/../')).rejects.toThrow('is not a backup key prefix');
  });
});
