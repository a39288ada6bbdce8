import { describe, expect, it } from '@jest/globals';
import { JOB_NAME_VARIABLE, JOB_OPERATION_ID_VARIABLE, JOB_TENANT_VARIABLE } from '../../lambdas/jobs.js';
import { PermanentError } from '../../lambdas/domain/errors.js';
import middy from '@middy/core';
import { runJob, type JobHandler } from '../../runtime/jobs/run-job.js';

const tenant = { tenantId: 'acme', names: { database: 'hp_dev_c1_acme' } };
const env = (overrides: Record<string, string | undefined> = {}) => ({
  [JOB_NAME_VARIABLE]: 'BackupTenant',
  [JOB_OPERATION_ID_VARIABLE]: 'op-42',
  [JOB_TENANT_VARIABLE]: JSON.stringify(tenant),
  ...overrides,
});

describe('runJob (the job container)', () => {
  it('runs the named handler with the removal step input its environment carries, and exits 0', async () => {
    const seen: unknown[] = [];
    const handler: JobHandler = async (event) => {
      seen.push(event);
      return { backupId: 'bk-1' };
    };

    const outcome = await runJob(env(), { BackupTenant: handler });

    expect(seen).toEqual([{ operationId: 'op-42', tenant }]);
    expect(outcome.exitCode).toBe(0);
    expect(JSON.parse(outcome.line)).toMatchObject({ job: 'BackupTenant', operationId: 'op-42', outcome: 'succeeded', result: { backupId: 'bk-1' } });
  });

  it('runs a middy handler to its end: the remaining time it reports fits a timer (found by the cloud rehearsal)', async () => {
    // middy arms a timer at getRemainingTimeInMillis(); Number.MAX_SAFE_INTEGER overflowed it, so
    // every job in the container was aborted after 1 ms with a TimeoutError.
    const handler = middy(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { backupId: 'bk-2' };
    });

    const outcome = await runJob(env(), { BackupTenant: handler as unknown as JobHandler });

    expect(JSON.parse(outcome.line)).toMatchObject({ outcome: 'succeeded', result: { backupId: 'bk-2' } });
    expect(outcome.exitCode).toBe(0);
  });

  it('exits 1 with the error named when the handler fails', async () => {
    const outcome = await runJob(env(), {
      BackupTenant: async () => {
        throw new PermanentError('the database is gone');
      },
    });

    expect(outcome.exitCode).toBe(1);
    expect(JSON.parse(outcome.line)).toMatchObject({ outcome: 'failed', error: 'Hostplane.Permanent', message: 'the database is gone' });
  });

  it.each([
    ['no job named', { [JOB_NAME_VARIABLE]: undefined }, 'HOSTPLANE_JOB must name one of BackupTenant'],
    ['an unknown job', { [JOB_NAME_VARIABLE]: 'DropEverything' }, 'HOSTPLANE_JOB must name one of BackupTenant'],
    ['no operation', { [JOB_OPERATION_ID_VARIABLE]: undefined }, `${JOB_OPERATION_ID_VARIABLE} is not set`],
    ['a tenant that is not JSON', { [JOB_TENANT_VARIABLE]: '{' }, `${JOB_TENANT_VARIABLE} is not JSON`],
    ['a tenant without an id', { [JOB_TENANT_VARIABLE]: '{}' }, `${JOB_TENANT_VARIABLE} has no tenantId`],
  ])('refuses to start with %s (exit 2), without running anything', async (_case, overrides, message) => {
    let ran = false;
    const outcome = await runJob(env(overrides), {
      BackupTenant: async () => {
        ran = true;
      },
    });

    expect(ran).toBe(false);
    expect(outcome.exitCode).toBe(2);
    expect(JSON.parse(outcome.line)).toMatchObject({ outcome: 'refused', error: expect.stringContaining(message) });
  });
});
