/**
 * The job container's entrypoint (`runtime/jobs/Dockerfile`): installs the cloud ports, runs the job
 * `HOSTPLANE_JOB` names with its input from the environment, logs one JSON line and exits with the
 * job's code, which Step Functions' `ecs:runTask.sync` waits for.
 */
import { installCloudPorts } from '../../cloud/cloud-ports.js';
import { backupsPort } from '../../cloud/ports/backups.js';
import { handler as backupTenant } from '../../lambdas/handlers/backup-tenant.js';
import type { JobName } from '../../lambdas/jobs.js';
import { runJob, type JobHandler } from './run-job.js';

const HANDLERS: Readonly<Record<JobName, JobHandler>> = {
  BackupTenant: backupTenant as unknown as JobHandler,
};

// The jobs' ports (lib/function-access.ts JOB_ACCESS): the registry, and the backup store.
installCloudPorts({ backups: backupsPort });
const outcome = await runJob(process.env, HANDLERS);
(outcome.exitCode === 0 ? console.log : console.error)(outcome.line);
process.exitCode = outcome.exitCode;
