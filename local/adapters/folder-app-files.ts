import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { AppFilesPort } from '../../lambdas/ports/app-files.js';

/** Tenants' app files in a folder on this machine (local stand-in for EFS). Paths are relative to the root. */
export class FolderAppFiles implements AppFilesPort {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Where `path` is on this machine, for local collaborators (the reloader, the front door). */
  absolutePath(path: string): string {
    if (typeof path !== 'string' || path === '' || isAbsolute(path) || path.includes('\0')) {
      throw new Error(`${JSON.stringify(path)} is not a relative app files path`);
    }
    const absolute = resolve(this.root, path);
    if (!absolute.startsWith(this.root + sep)) {
      throw new Error(`${JSON.stringify(path)} is outside the app files root`);
    }
    return absolute;
  }

  async ensureFolder(path: string): Promise<void> {
    const folder = await this.resolved(path);
    await mkdir(folder, { recursive: true });
  }

  /** Writes the whole file or nothing: readers see the old content or the new, never a part. */
  async writeFile(path: string, content: string | Uint8Array): Promise<void> {
    const file = await this.resolved(path);
    await mkdir(dirname(file), { recursive: true });
    const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(temporary, content, { flag: 'wx' });
      await rename(temporary, file);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    try {
      return await readFile(await this.resolved(path));
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(await this.resolved(path));
      return true;
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return false;
      throw error;
    }
  }

  async listFolder(path: string): Promise<string[]> {
    try {
      return (await readdir(await this.resolved(path))).sort();
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return [];
      throw error;
    }
  }

  async removeFolder(path: string): Promise<boolean> {
    const folder = await this.resolved(path);
    try {
      if (!(await lstat(folder)).isDirectory()) throw new Error(`${JSON.stringify(path)} is not a folder`);
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return false;
      throw error;
    }
    await rm(folder, { recursive: true, force: true });
    return true;
  }

  /**
   * `absolutePath`, and also checked on disk: the longest part of the path that exists must stay
   * under the root once symbolic links are followed, so a link placed in a tenant's folder cannot
   * lead a write elsewhere.
   */
  private async resolved(path: string): Promise<string> {
    const absolute = this.absolutePath(path);
    const realRoot = await realpath(this.root).catch((error: unknown) => {
      if (isCode(error, 'ENOENT')) return undefined;
      throw error;
    });
    if (realRoot === undefined) return absolute;
    for (let existing = absolute; existing.startsWith(this.root + sep); existing = dirname(existing)) {
      const real = await realpath(existing).catch((error: unknown) => {
        if (isCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
        throw error;
      });
      if (real === undefined) continue;
      if (real !== realRoot && !real.startsWith(realRoot + sep)) {
        throw new Error(`${JSON.stringify(path)} leads outside the app files root`);
      }
      break;
    }
    return absolute;
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' && codes.includes(error.code);
}
