import middy from '@middy/core';
import { finishBackupOperation as finish, type FinishInput } from '../backup/backup-operation-steps.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type Finished = Awaited<ReturnType<typeof finish>>;

/** FinishBackupOperation (backup machine): the operation SUCCEEDED with what it gave. */
export function finishBackupOperation(event: FinishInput): Promise<Finished> {
  const { sql, workflows } = ports();
  return finish(event, { sql, workflows });
}

export const handler = middy<FinishInput, Finished>().use(trackStep('FinishBackupOperation')).handler(finishBackupOperation);
