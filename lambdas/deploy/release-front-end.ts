import { PUBLIC_FOLDER } from '../codegen/generate-app.js';
import type { TenantResourceNames } from '../domain/naming.js';
import { PermanentError } from '../domain/errors.js';
import type { StaticAssetFiles } from '../domain/static-assets.js';
import type { AppFilesPort } from '../ports/app-files.js';
import type { EdgePort, StaticAssetsPublished } from '../ports/edge.js';
import { checkReleaseId, currentRelease } from './releases.js';

/** Deeper than any front end needs; a bound on the walk. */
const MAX_DEPTH = 8;

/**
 * A release's front end as the edge serves it: the files of `releases/<id>/public/` in the tenant's
 * app files, keyed by their path inside `public/`. A release with no `public/` folder has none.
 */
export async function readReleaseFrontEnd(appFiles: AppFilesPort, folder: string, releaseId: string): Promise<StaticAssetFiles> {
  checkReleaseId(releaseId);
  const base = `${folder}/releases/${releaseId}/${PUBLIC_FOLDER.replace(/\/$/, '')}`;
  const files: Record<string, Buffer> = {};
  const walk = async (relative: string, depth: number): Promise<void> => {
    for (const name of await appFiles.listFolder(relative ? `${base}/${relative}` : base)) {
      const key = relative ? `${relative}/${name}` : name;
      // listFolder answers [] for a file: a name with entries is a folder.
      if ((await appFiles.listFolder(`${base}/${key}`)).length > 0) {
        if (depth >= MAX_DEPTH) throw new PermanentError(`release ${releaseId}: ${PUBLIC_FOLDER}${key} is nested deeper than ${MAX_DEPTH} folders`);
        await walk(key, depth + 1);
        continue;
      }
      const content = await readFileOrNothing(appFiles, `${base}/${key}`);
      if (content) files[key] = content;
    }
  };
  await walk('', 0);
  return files;
}

/** Reads a file; undefined for an empty folder (what listFolder could not tell from a file). */
async function readFileOrNothing(appFiles: AppFilesPort, path: string): Promise<Buffer | undefined> {
  try {
    return await appFiles.readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw error;
  }
}

/** Publishes a release's front end to the tenant's static-asset store (see `EdgePort.publishStaticAssets`). */
export async function publishReleaseFrontEnd(
  appFiles: AppFilesPort,
  edge: EdgePort,
  names: Pick<TenantResourceNames, 'appFilesFolder' | 'assetsBucket'>,
  releaseId: string,
): Promise<StaticAssetsPublished> {
  const files = await readReleaseFrontEnd(appFiles, names.appFilesFolder, releaseId);
  return edge.publishStaticAssets(names.assetsBucket, releaseId, files);
}

/**
 * After a rollback (or a Publish that failed half-way), the store serves the front end of whatever
 * release is current again; nothing when no release is current yet.
 */
export async function republishCurrentFrontEnd(
  appFiles: AppFilesPort,
  edge: EdgePort,
  names: Pick<TenantResourceNames, 'appFilesFolder' | 'assetsBucket'>,
): Promise<StaticAssetsPublished | undefined> {
  const current = await currentRelease(appFiles, names.appFilesFolder);
  return current ? publishReleaseFrontEnd(appFiles, edge, names, current) : undefined;
}
