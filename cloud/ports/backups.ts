import { S3Client } from '@aws-sdk/client-s3';
import type { BackupStorePort } from '../../lambdas/ports/backup-store.js';
import { S3BackupStore } from '../adapters/s3-backup-store.js';
import type { CloudContext } from '../cloud-context.js';
import { requireVariable } from '../cloud-environment.js';

export function backupsPort(context: CloudContext): BackupStorePort {
  return new S3BackupStore({
    client: context.client('s3', (c) => new S3Client(c)),
    bucket: requireVariable(context.env, 'backupBucket', 'the backup store (S3)'),
  });
}
