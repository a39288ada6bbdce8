import middy from '@middy/core';
import { restoreBackupStep, type BackupWorkInput, type Restored } from '../backup/backup-operation-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

/** RestoreBackup (backup machine): the tenant's data replaced by the backup's, in one transaction. */
export function restoreBackup(event: BackupWorkInput): Promise<Restored> {
  const { sql, backups } = ports();
  return restoreBackupStep(event, { sql, backups });
}

export const handler = middy<BackupWorkInput, Restored>().use(trackStep('RestoreBackup')).handler(restoreBackup);
