/**
 * The job container's entrypoint (`runtime/jobs/Dockerfile`): installs the cloud ports, runs the job
 * `HOSTPLANE_JOB` names with its input from the environment, logs one JSON line and exits with the
 * job's code, which Step Functions' `ecs:runTask.sync` waits for.
 */
import { installCloudPorts } from '../../cloud/cloud-ports.js';
import { backupsPort } from '../../cloud/ports/backups.js';
import { secretsPort } from '../../cloud/ports/secrets.js';
import { handler as backupTenant } from '../../lambdas/handlers/backup-tenant.js';
import type { JobName } from '../../lambdas/jobs.js';
import { runJob, type JobHandler } from './run-job.js';

const HANDLERS: Readonly<Record<JobName, JobHandler>> = {
  BackupTenant: backupTenant as unknown as JobHandler,
};

// The jobs' ports (lib/function-access.ts JOB_ACCESS): the registry, the backup store, and the
// secrets (a backup reads the tenant's tables signed in with the tenant's own secret, ADR 0009).
installCloudPorts({ backups: backupsPort, secrets: secretsPort });
const outcome = await runJob(process.env, HANDLERS);
(outcome.exitCode === 0 ? console.log : console.error)(outcome.line);
process.exitCode = outcome.exitCode;
