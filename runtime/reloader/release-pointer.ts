/**
 * Reads the tenant's `current` pointer: a symlink to `releases/<id>` (or to `<id>`), or a file
 * whose first line names it. The publisher flips it atomically (write-new-then-rename), so a read
 * sees either the old or the new pointer.
 */
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const CURRENT_POINTER = 'current';
export const RELEASES_DIR = 'releases';

/** A release id is one path segment: letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const RELEASE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface Release {
  readonly id: string;
  /** Absolute: `<appDir>/releases/<id>`. */
  readonly dir: string;
}

export type PointerReading =
  | { readonly kind: 'none' }
  | { readonly kind: 'release'; readonly release: Release }
  | { readonly kind: 'invalid'; readonly raw: string; readonly reason: string };

/** Equal readings have equal keys. */
export function readingKey(reading: PointerReading): string {
  switch (reading.kind) {
    case 'none':
      return 'none';
    case 'release':
      return `release:${reading.release.id}`;
    case 'invalid':
      return `invalid:${reading.raw}:${reading.reason}`;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The release id named by a pointer's text, or why it names none. */
export function parsePointer(raw: string): { id: string } | { reason: string } {
  const segments = raw.trim().replace(/\/+$/, '').split('/');
  const id = segments.at(-1) ?? '';
  if (segments.length > 1 && segments.at(-2) !== RELEASES_DIR) return { reason: `does not name a folder under ${RELEASES_DIR}/` };
  if (!RELEASE_ID_PATTERN.test(id)) return { reason: `"${id}" is not a valid release id` };
  return { id };
}

export async function readCurrentPointer(appDir: string): Promise<PointerReading> {
  const pointer = join(appDir, CURRENT_POINTER);
  let raw: string;
  try {
    const info = await lstat(pointer);
    if (info.isSymbolicLink()) raw = await readlink(pointer);
    else if (info.isFile()) raw = (await readFile(pointer, 'utf8')).split('\n', 1)[0] ?? '';
    else return { kind: 'invalid', raw: '', reason: `${CURRENT_POINTER} is neither a symlink nor a file` };
  } catch (error) {
    if (isMissing(error)) return { kind: 'none' };
    throw error;
  }
  const parsed = parsePointer(raw);
  if ('reason' in parsed) return { kind: 'invalid', raw: raw.trim(), reason: `${CURRENT_POINTER} ${parsed.reason}` };
  const dir = join(appDir, RELEASES_DIR, parsed.id);
  try {
    if (!(await stat(dir)).isDirectory()) return { kind: 'invalid', raw: raw.trim(), reason: `${RELEASES_DIR}/${parsed.id} is not a folder` };
  } catch (error) {
    if (isMissing(error)) return { kind: 'invalid', raw: raw.trim(), reason: `${RELEASES_DIR}/${parsed.id} does not exist` };
    throw error;
  }
  return { kind: 'release', release: { id: parsed.id, dir } };
}
