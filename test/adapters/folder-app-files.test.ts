import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { FolderAppFiles } from '../../local/adapters/folder-app-files.js';

describe('FolderAppFiles', () => {
  let stateDir: string;
  let root: string;
  let outside: string;
  let appFiles: FolderAppFiles;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hostplane-app-files-'));
    root = join(stateDir, 'app-files');
    outside = join(stateDir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'not for tenants');
    appFiles = new FolderAppFiles(root);
  });

  afterAll(async () => {
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('writes a file, creating its folders, and reads it back', async () => {
    await appFiles.writeFile('tenants/acme/releases/r1/app.js', 'console.log(1)');
    await appFiles.writeFile('tenants/acme/releases/r1/logo.bin', new Uint8Array([0, 1, 2, 255]));

    expect((await appFiles.readFile('tenants/acme/releases/r1/app.js'))?.toString('utf8')).toBe('console.log(1)');
    expect([...((await appFiles.readFile('tenants/acme/releases/r1/logo.bin')) ?? [])]).toEqual([0, 1, 2, 255]);
    expect(await appFiles.readFile('tenants/acme/releases/r1/missing.js')).toBeUndefined();
    expect(appFiles.absolutePath('tenants/acme/releases/r1/app.js')).toBe(join(root, 'tenants/acme/releases/r1/app.js'));
  });

  it('replaces a file whole and leaves no temporary files behind', async () => {
    await appFiles.writeFile('tenants/acme/current', 'r1');
    await appFiles.writeFile('tenants/acme/current', 'r2');

    expect((await appFiles.readFile('tenants/acme/current'))?.toString()).toBe('r2');
    expect((await readdir(join(root, 'tenants/acme'))).sort()).toEqual(['current', 'releases']);
  });

  it('makes folders and tells what exists', async () => {
    await appFiles.ensureFolder('tenants/empty/releases');
    await appFiles.ensureFolder('tenants/empty/releases');

    expect(await appFiles.exists('tenants/empty/releases')).toBe(true);
    expect(await appFiles.exists('tenants/empty/nothing')).toBe(false);
    expect(await appFiles.exists('tenants/acme/current/below-a-file')).toBe(false);
  });

  it('removes a folder if present and says whether it was', async () => {
    await appFiles.writeFile('tenants/gone/releases/r1/app.js', 'x');

    expect(await appFiles.removeFolder('tenants/gone')).toBe(true);
    expect(await appFiles.removeFolder('tenants/gone')).toBe(false);
    expect(await appFiles.exists('tenants/gone')).toBe(false);
    await expect(appFiles.removeFolder('tenants/acme/current')).rejects.toThrow('is not a folder');
  });

  it('refuses paths that leave the root or name the root itself', async () => {
    const bad = ['', '.', '/etc/passwd', '..', '../outside/secret.txt', 'tenants/../../outside/secret.txt', 'tenants/acme/../../..', 'a\0b'];

    for (const path of bad) {
      expect(() => appFiles.absolutePath(path)).toThrow(JSON.stringify(path));
      await expect(appFiles.readFile(path)).rejects.toThrow(JSON.stringify(path));
      await expect(appFiles.writeFile(path, 'x')).rejects.toThrow(JSON.stringify(path));
      await expect(appFiles.removeFolder(path)).rejects.toThrow(JSON.stringify(path));
    }
    expect(appFiles.absolutePath('tenants/acme/../other/app.js')).toBe(join(root, 'tenants/other/app.js'));
  });

  it('refuses to follow a symbolic link out of the root', async () => {
    await appFiles.ensureFolder('tenants/linked');
    await symlink(outside, join(root, 'tenants/linked/escape'));

    await expect(appFiles.readFile('tenants/linked/escape/secret.txt')).rejects.toThrow('leads outside');
    await expect(appFiles.writeFile('tenants/linked/escape/planted.txt', 'x')).rejects.toThrow('leads outside');
    expect(await readdir(outside)).toEqual(['secret.txt']);
  });
});
