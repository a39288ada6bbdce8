import middy from '@middy/core';
import { writeExportStep, type BackupWorkInput, type Exported } from '../backup/backup-operation-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

/** WriteExport (backup machine): the backup as schema.json and a CSV per entity, one .tar.gz in the backup store. */
export function writeExport(event: BackupWorkInput): Promise<Exported> {
  const { sql, backups, config } = ports();
  return writeExportStep(event, { sql, backups, config });
}

export const handler = middy<BackupWorkInput, Exported>().use(trackStep('WriteExport')).handler(writeExport);
