import type { AppFilesPort } from '../../lambdas/ports/app-files.js';
import { FolderAppFiles } from '../../local/adapters/folder-app-files.js';
import type { CloudContext } from '../cloud-context.js';
import { requireVariable } from '../cloud-environment.js';

/** The cell's EFS, mounted in the function: a folder like any other. */
export function appFilesPort(context: CloudContext): AppFilesPort {
  return new FolderAppFiles(requireVariable(context.env, 'appFilesMount', 'the app-files port (EFS mounted in the function)'));
}
