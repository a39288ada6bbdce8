import { PermanentError, ValidationError } from '../domain/errors.js';
import type { AppFilesPort } from '../ports/app-files.js';

/**
 * A tenant's releases in its app files:
 *
 *   <folder>/releases/<release id>/…   one folder per release, never changed once complete
 *   <folder>/releases/<id>/.complete   written last: a release without it is a partial upload
 *   <folder>/current                   the id of the release that serves, replaced atomically
 *   <folder>/history                   ids in the order they were made current, newest last
 *
 * `current` is a file rather than a symbolic link because EFS access points and S3-style stores
 * both handle a small file written-then-renamed, and the reloader polls it over NFS.
 */
export const CURRENT_FILE = 'current';
const HISTORY_FILE = 'history';
const COMPLETE_MARKER = '.complete';
const RELEASE_ID = /^[a-f0-9]{12,64}$/;
const RELATIVE_PATH = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]{1,200}$/;

export type ReleaseFiles = Readonly<Record<string, string | Uint8Array>>;

export interface PublishResult {
  readonly releaseId: string;
  readonly previous: string | undefined;
  /** Releases removed because more than `keep` were kept. */
  readonly pruned: readonly string[];
}

/** Refuses what is not a release id (12 to 64 lowercase hex characters) before it names a folder, a key or a metadata value. */
export function checkReleaseId(releaseId: string): void {
  if (!RELEASE_ID.test(releaseId)) throw new ValidationError('releaseId', `must be 12-64 lowercase hex characters, got ${JSON.stringify(releaseId)}`);
}

export async function currentRelease(appFiles: AppFilesPort, folder: string): Promise<string | undefined> {
  const content = await appFiles.readFile(`${folder}/${CURRENT_FILE}`);
  const id = content?.toString('utf8').trim();
  return id && RELEASE_ID.test(id) ? id : undefined;
}

export async function releaseHistory(appFiles: AppFilesPort, folder: string): Promise<string[]> {
  const content = await appFiles.readFile(`${folder}/${HISTORY_FILE}`);
  return (content?.toString('utf8') ?? '').split('\n').filter((id) => RELEASE_ID.test(id));
}

/**
 * Uploads a release without making it current (Compile does this; Publish flips the pointer).
 * A release that is already complete (same id, so same bytes) is left as it is.
 */
export async function stageRelease(appFiles: AppFilesPort, folder: string, releaseId: string, files: ReleaseFiles): Promise<void> {
  checkReleaseId(releaseId);
  const base = `${folder}/releases/${releaseId}`;
  if (await appFiles.exists(`${base}/${COMPLETE_MARKER}`)) return;
  for (const [path, content] of Object.entries(files)) {
    if (!RELATIVE_PATH.test(path) || path === COMPLETE_MARKER) throw new ValidationError(`files.${path}`, 'is not a safe relative path');
    await appFiles.writeFile(`${base}/${path}`, content);
  }
  await appFiles.writeFile(`${base}/${COMPLETE_MARKER}`, new Date().toISOString());
}

/** Makes a staged release current in one atomic write, then keeps the newest `keep` releases (never the current or the previous one). */
export async function activateRelease(
  appFiles: AppFilesPort,
  folder: string,
  releaseId: string,
  { keep = 5 }: { keep?: number } = {},
): Promise<PublishResult> {
  checkReleaseId(releaseId);
  if (!Number.isInteger(keep) || keep < 2) throw new ValidationError('keep', 'must be a whole number of at least 2');
  if (!(await appFiles.exists(`${folder}/releases/${releaseId}/${COMPLETE_MARKER}`))) {
    throw new PermanentError(`release ${releaseId} was not uploaded completely, so it cannot be made current`);
  }
  const previous = await currentRelease(appFiles, folder);
  return { releaseId, previous, pruned: await makeCurrent(appFiles, folder, releaseId, keep) };
}

/** {@link stageRelease} then {@link activateRelease}. Running it twice gives the same end state. */
export async function publishRelease(
  appFiles: AppFilesPort,
  folder: string,
  releaseId: string,
  files: ReleaseFiles,
  options: { keep?: number } = {},
): Promise<PublishResult> {
  await stageRelease(appFiles, folder, releaseId, files);
  return activateRelease(appFiles, folder, releaseId, options);
}

/** Makes an earlier complete release current again: `to`, or the one before the current. */
export async function rollBackRelease(appFiles: AppFilesPort, folder: string, to?: string): Promise<PublishResult> {
  const history = await releaseHistory(appFiles, folder);
  const current = await currentRelease(appFiles, folder);
  const target = to ?? history.filter((id) => id !== current).at(-1);
  if (!target) throw new PermanentError('there is no earlier release to roll back to');
  checkReleaseId(target);
  if (!(await appFiles.exists(`${folder}/releases/${target}/${COMPLETE_MARKER}`))) {
    throw new PermanentError(`release ${target} is not (or no longer) kept, so it cannot be made current`);
  }
  return { releaseId: target, previous: current, pruned: await makeCurrent(appFiles, folder, target, Number.POSITIVE_INFINITY) };
}

async function makeCurrent(appFiles: AppFilesPort, folder: string, releaseId: string, keep: number): Promise<string[]> {
  const previous = await currentRelease(appFiles, folder);
  const history = (await releaseHistory(appFiles, folder)).filter((id) => id !== releaseId);
  history.push(releaseId);
  await appFiles.writeFile(`${folder}/${CURRENT_FILE}`, `${releaseId}\n`);
  await appFiles.writeFile(`${folder}/${HISTORY_FILE}`, `${history.join('\n')}\n`);

  const onDisk = (await appFiles.listFolder(`${folder}/releases`)).filter((id) => RELEASE_ID.test(id));
  const protectedIds = new Set([releaseId, ...(previous ? [previous] : []), ...history.slice(-keep)]);
  const pruned = onDisk.filter((id) => !protectedIds.has(id));
  for (const id of pruned) await appFiles.removeFolder(`${folder}/releases/${id}`);
  if (pruned.length) {
    const kept = history.filter((id) => !pruned.includes(id));
    await appFiles.writeFile(`${folder}/${HISTORY_FILE}`, `${kept.join('\n')}\n`);
  }
  return pruned;
}
