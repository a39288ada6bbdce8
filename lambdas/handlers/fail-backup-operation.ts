import middy from '@middy/core';
import { failBackupOperation as fail, type FailInput } from '../backup/backup-operation-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type Failed = Awaited<ReturnType<typeof fail>>;

/** FailBackupOperation (backup machine): the operation FAILED with the reason. */
export function failBackupOperation(event: FailInput): Promise<Failed> {
  return fail(event, { sql: ports().sql });
}

export const handler = middy<FailInput, Failed>().use(trackStep('FailBackupOperation')).handler(failBackupOperation);
