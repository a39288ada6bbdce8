import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { checkBackupKey, checkBackupPrefix, type BackupStorePort, type DownloadLink } from '../../lambdas/ports/backup-store.js';
import type { SignedDownloadLinks } from './signed-download-links.js';

const FILE_MODE = 0o600;
const FOLDER_MODE = 0o700;
/** `.<name>.<random>.tmp`: a write in progress. Keys never have a segment starting with a dot, so it is never listed. */
const TEMPORARY = /^\.(.+)\.[0-9a-f]{12}\.tmp$/;

/**
 * The backup store in a folder on this machine (local stand-in for S3): `dev/acme/bk-1/manifest.json`
 * is `<root>/dev/acme/bk-1/manifest.json`. Files are readable by their owner only (0600, folders
 * 0700) and appear whole: each is written beside its place and renamed into it.
 *
 * Unlike S3, a key cannot also be the folder of other keys (`a/b` and `a/b/c`): such a write fails.
 */
export class FolderBackupStore implements BackupStorePort {
  private readonly root: string;

  /** `links`: how links to objects are signed (the local API serves them); without it, `link` fails. */
  constructor(
    root: string,
    private readonly links?: SignedDownloadLinks,
  ) {
    this.root = resolve(root);
  }

  async link(key: string, expiresInSeconds: number): Promise<DownloadLink> {
    // As a presigned URL, a link is made without looking at the object: a missing one answers 404 when fetched.
    if (!this.links) throw new Error('this backup store gives no links: the local API that would serve them is not running');
    return this.links.sign(key, expiresInSeconds);
  }

  async write(key: string, content: string | Uint8Array): Promise<void> {
    const file = this.fileOf(checkBackupKey(key));
    const folder = dirname(file);
    await mkdir(folder, { recursive: true, mode: FOLDER_MODE });
    const temporary = join(folder, `.${file.slice(folder.length + 1)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(temporary, 'wx', FILE_MODE);
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.fileOf(checkBackupKey(key)));
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const { objects } = await this.find(checkBackupPrefix(prefix, { allowEmpty: true }));
    return objects.map((object) => object.key).sort();
  }

  /** Also removes writes left half-done under the prefix (a crashed writer's temporary files), and the folders it empties. */
  async remove(prefix: string): Promise<number> {
    const { objects, temporaries } = await this.find(checkBackupPrefix(prefix));
    let removed = 0;
    for (const { file } of objects) {
      if (await unlinkIfPresent(file)) removed += 1;
    }
    for (const file of temporaries) await unlinkIfPresent(file);
    const folders = new Set([...objects.map((object) => dirname(object.file)), ...temporaries.map((file) => dirname(file))]);
    for (const folder of [...folders].sort((a, b) => b.length - a.length)) await this.removeEmptyFolders(folder);
    return removed;
  }

  private fileOf(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  /** The objects whose keys start with `prefix`, and the temporary files of writes to such keys. */
  private async find(prefix: string): Promise<{ objects: { key: string; file: string }[]; temporaries: string[] }> {
    const objects: { key: string; file: string }[] = [];
    const temporaries: string[] = [];
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const walk = async (folder: string, keyOfFolder: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(folder, { withFileTypes: true });
      } catch (error) {
        if (isCode(error, 'ENOENT', 'ENOTDIR')) return;
        throw error;
      }
      for (const entry of entries) {
        const key = keyOfFolder ? `${keyOfFolder}/${entry.name}` : entry.name;
        const path = join(folder, entry.name);
        const pending = TEMPORARY.exec(entry.name);
        if (pending && entry.isFile()) {
          const target = keyOfFolder ? `${keyOfFolder}/${pending[1]}` : pending[1]!;
          if (target.startsWith(prefix)) temporaries.push(path);
        } else if (entry.name.startsWith('.')) {
          continue;
        } else if (entry.isDirectory()) {
          // Only folders that can hold a key with the prefix.
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(path, key);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          objects.push({ key, file: path });
        }
      }
    };
    await walk(base ? this.fileOf(base) : this.root, base);
    return { objects, temporaries };
  }

  /** Removes `folder` and its parents while they are empty, never the root or above it. */
  private async removeEmptyFolders(folder: string): Promise<void> {
    for (let current = folder; current.startsWith(this.root + sep); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch (error) {
        if (isCode(error, 'ENOTEMPTY', 'EEXIST', 'ENOENT')) return;
        throw error;
      }
    }
  }
}

async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if (isCode(error, 'ENOENT')) return false;
    throw error;
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' && codes.includes(error.code);
}
