import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { SecretValue } from '../../lambdas/ports/secrets.js';
import { FileSecrets } from '../../local/adapters/file-secrets.js';

describe('FileSecrets', () => {
  let stateDir: string;
  let root: string;
  let secrets: FileSecrets;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hostplane-file-secrets-'));
    root = join(stateDir, 'secrets');
    secrets = new FileSecrets(root);
  });

  afterAll(async () => {
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('stores a secret once and returns it on every later call', async () => {
    const first = await secrets.getOrCreate('hostplane/dev/local/acme/database', () => ({ password: 'first' }));
    const again = await secrets.getOrCreate('hostplane/dev/local/acme/database', () => ({ password: 'second' }));

    expect(first).toEqual({ password: 'first' });
    expect(again).toEqual({ password: 'first' });
    expect(await secrets.get('hostplane/dev/local/acme/database')).toEqual({ password: 'first' });
    expect(await secrets.get('hostplane/dev/local/acme/nothing')).toBeUndefined();
  });

  it('keeps secrets readable by their owner only', async () => {
    await secrets.getOrCreate('hostplane/dev/local/modes/cache', () => ({ password: 'p' }));

    expect((await stat(join(root, 'hostplane/dev/local/modes/cache.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'hostplane/dev/local/modes'))).mode & 0o777).toBe(0o700);
    expect((await stat(root)).mode & 0o777).toBe(0o700);
  });

  it('gives concurrent creators of one secret the same value', async () => {
    let created = 0;
    const create = (): SecretValue => ({ password: `value-${++created}` });

    const values = await Promise.all(Array.from({ length: 20 }, () => secrets.getOrCreate('hostplane/dev/local/race/database', create)));

    expect(created).toBeGreaterThan(1);
    expect(new Set(values.map((value) => value.password)).size).toBe(1);
    expect(await secrets.get('hostplane/dev/local/race/database')).toEqual(values[0]);
    expect((await readdir(join(root, 'hostplane/dev/local/race'))).sort()).toEqual(['database.json']);
  });

  it('deletes a secret if present, says whether it was, and removes emptied folders', async () => {
    await secrets.getOrCreate('hostplane/dev/local/gone/database', () => ({ password: 'p' }));

    expect(await secrets.delete('hostplane/dev/local/gone/database')).toBe(true);
    expect(await secrets.delete('hostplane/dev/local/gone/database')).toBe(false);
    expect(await secrets.get('hostplane/dev/local/gone/database')).toBeUndefined();
    expect(await readdir(join(root, 'hostplane/dev/local'))).not.toContain('gone');
    expect((await stat(root)).isDirectory()).toBe(true);
  });

  it('lists the names under a prefix', async () => {
    await secrets.getOrCreate('hostplane/list/local/one/database', () => ({ password: 'p' }));
    await secrets.getOrCreate('hostplane/list/local/one/cache', () => ({ password: 'p' }));
    await secrets.getOrCreate('hostplane/list/local/onetwo/cache', () => ({ password: 'p' }));
    await secrets.getOrCreate('hostplane/list/other/one/cache', () => ({ password: 'p' }));

    expect(await secrets.list('hostplane/list/local/one/')).toEqual(['hostplane/list/local/one/cache', 'hostplane/list/local/one/database']);
    expect(await secrets.list('hostplane/list/local/one')).toEqual([
      'hostplane/list/local/one/cache',
      'hostplane/list/local/one/database',
      'hostplane/list/local/onetwo/cache',
    ]);
    expect(await secrets.list('hostplane/list/')).toHaveLength(4);
    expect(await secrets.list('hostplane/nothing-here/')).toEqual([]);
  });

  it('refuses names that are not secret names', async () => {
    const bad = ['', '/etc/passwd', '../outside', 'a/../../outside', 'a//b', 'a/', 'Upper/case', 'with space', 'a/b.json', '-dash-first'];

    for (const name of bad) {
      await expect(secrets.get(name)).rejects.toThrow(JSON.stringify(name));
      await expect(secrets.getOrCreate(name, () => ({ x: 'y' }))).rejects.toThrow(JSON.stringify(name));
      await expect(secrets.delete(name)).rejects.toThrow(JSON.stringify(name));
    }
    await expect(secrets.list('../')).rejects.toThrow('"../"');
  });

  it('refuses to store a value that is not an object of strings', async () => {
    const notStrings = (): SecretValue => ({ port: 5432 }) as unknown as SecretValue;

    await expect(secrets.getOrCreate('hostplane/dev/local/bad/value', notStrings)).rejects.toThrow('object of string fields');
    expect(await secrets.get('hostplane/dev/local/bad/value')).toBeUndefined();
  });
});
