import middy from '@middy/core';
import { confirmFinalBackup, type FinalBackup } from '../backup/confirm-final-backup.js';
import type { RemovalStepInput } from '../deprovision/deprovision-input.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

/** ConfirmFinalBackup (deprovision): the final backup the BackupTenant job recorded, or why there is none. */
export function confirmFinalBackupStep(event: RemovalStepInput): Promise<FinalBackup> {
  return confirmFinalBackup(event, ports());
}

export const handler = middy<RemovalStepInput, FinalBackup>().use(trackStep('ConfirmFinalBackup')).handler(confirmFinalBackupStep);
