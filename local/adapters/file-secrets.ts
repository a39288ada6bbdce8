import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { SecretValue, SecretsPort } from '../../lambdas/ports/secrets.js';

const NAME = /^[a-z0-9][a-z0-9/_-]{0,200}$/;
const PREFIX = /^[a-z0-9/_-]{0,201}$/;
const SUFFIX = '.json';
const FILE_MODE = 0o600;
const FOLDER_MODE = 0o700;
/** A folder removed by a concurrent `delete` between our mkdir and our link: try again. */
const CREATE_ATTEMPTS = 5;

/**
 * Secrets as JSON files readable by their owner only: `hostplane/dev/local/acme/database` is
 * `<root>/hostplane/dev/local/acme/database.json`. Files appear whole or not at all.
 */
export class FileSecrets implements SecretsPort {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async getOrCreate(name: string, create: () => SecretValue): Promise<SecretValue> {
    const file = this.fileOf(name);
    const existing = await this.readSecret(name, file);
    if (existing) return existing;
    const content = `${JSON.stringify(checkedValue(name, create()))}\n`;
    for (let attempt = 1; ; attempt++) {
      const stored = await this.createIfAbsent(file, content);
      if (stored === 'created') return JSON.parse(content) as SecretValue;
      // Someone else stored it first (or deleted it again): theirs is the value, if still there.
      const winner = await this.readSecret(name, file);
      if (winner) return winner;
      if (attempt >= CREATE_ATTEMPTS) throw new Error(`secret ${name}: could not store it, it kept changing under us`);
    }
  }

  async get(name: string): Promise<SecretValue | undefined> {
    return this.readSecret(name, this.fileOf(name));
  }

  async delete(name: string): Promise<boolean> {
    const file = this.fileOf(name);
    try {
      await unlink(file);
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return false;
      throw error;
    }
    await this.removeEmptyFolders(dirname(file));
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.split('/').includes('..')) {
      throw new Error(`${JSON.stringify(prefix)} is not a secret name prefix (lowercase letters, digits, / _ -)`);
    }
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const names: string[] = [];
    await this.collect(join(this.root, ...folder.split('/').filter(Boolean)), names);
    return names.filter((name) => name.startsWith(prefix)).sort();
  }

  /** The file holding `name`, after checking the name cannot point anywhere else. */
  private fileOf(name: string): string {
    if (typeof name !== 'string' || !NAME.test(name) || name.endsWith('/') || name.split('/').some((part) => part === '' || part === '..')) {
      throw new Error(`${JSON.stringify(name)} is not a secret name (like hostplane/dev/local/acme/database)`);
    }
    return join(this.root, ...name.split('/')) + SUFFIX;
  }

  private async readSecret(name: string, file: string): Promise<SecretValue | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new Error(`secret ${name}: ${file} is not JSON`, { cause: error });
    }
    return checkedValue(name, value);
  }

  /**
   * Writes `content` to a private temporary file beside `file`, then links it in under the final
   * name: `link` fails if that name exists, so of two racing callers exactly one wins.
   */
  private async createIfAbsent(file: string, content: string): Promise<'created' | 'exists'> {
    const folder = dirname(file);
    await this.ensureFolder(folder);
    const temporary = join(folder, `.${randomBytes(8).toString('hex')}.tmp`);
    try {
      const handle = await open(temporary, 'wx', FILE_MODE);
      try {
        await handle.writeFile(content, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await link(temporary, file);
      return 'created';
    } catch (error) {
      if (isCode(error, 'EEXIST', 'ENOENT')) return 'exists';
      throw error;
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }

  private async ensureFolder(folder: string): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: FOLDER_MODE });
    await mkdir(folder, { recursive: true, mode: FOLDER_MODE });
  }

  /** Removes `folder` and its parents while they are empty, never the root or above. */
  private async removeEmptyFolders(folder: string): Promise<void> {
    for (let current = folder; isInside(this.root, current); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch (error) {
        if (isCode(error, 'ENOTEMPTY', 'EEXIST', 'ENOENT')) return;
        throw error;
      }
    }
  }

  private async collect(folder: string, names: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        await this.collect(path, names);
      } else if (entry.isFile() && entry.name.endsWith(SUFFIX) && !entry.name.startsWith('.')) {
        names.push(relative(this.root, path).slice(0, -SUFFIX.length).split(sep).join('/'));
      }
    }
  }
}

function checkedValue(name: string, value: unknown): SecretValue {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((field) => typeof field === 'string')) {
    throw new Error(`secret ${name}: a secret is an object of string fields`);
  }
  return value as SecretValue;
}

function isInside(root: string, path: string): boolean {
  return path.startsWith(root + sep);
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' && codes.includes(error.code);
}
