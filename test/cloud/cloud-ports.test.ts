import { describe, expect, it } from '@jest/globals';
import { CLOUD_VARIABLES } from '../../cloud/cloud-environment.js';
import { cloudPorts, platformConfig } from '../../cloud/cloud-ports.js';
import { backupsPort } from '../../cloud/ports/backups.js';
import { computePort } from '../../cloud/ports/compute.js';
import { S3BackupStore } from '../../cloud/adapters/s3-backup-store.js';
import { RdsDataSql } from '../../cloud/adapters/rds-data-sql.js';

const base = {
  AWS_REGION: 'eu-west-1',
  [CLOUD_VARIABLES.environment]: 'dev',
  [CLOUD_VARIABLES.cells]: JSON.stringify([{ cell: 'c1', maxTenants: 98, limits: { 'cache users per user group': 98 } }]),
  [CLOUD_VARIABLES.databaseClusterArn]: 'arn:aws:rds:eu-west-1:123456789012:cluster:hp-dev-c1',
  [CLOUD_VARIABLES.databaseSecretArn]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hostplane-cell/dev/c1/admin-AbCdEf',
};

describe('cloudPorts (the cloud composition root)', () => {
  it('builds the registry sql and the granted ports from the environment, each once, on first use', () => {
    const ports = cloudPorts({ backups: backupsPort }, { ...base, [CLOUD_VARIABLES.backupBucket]: 'hp-dev-backups' });

    expect(ports.sql).toBeInstanceOf(RdsDataSql);
    expect(ports.sql).toBe(ports.sql);
    expect(ports.backups).toBeInstanceOf(S3BackupStore);
  });

  it('refuses a port the function was not granted, saying where grants are listed', () => {
    const ports = cloudPorts({}, base);

    expect(() => ports.compute).toThrow('this function was not granted the compute port (lib/function-access.ts lists what each function may reach)');
  });

  it('names the variable a port lacks, and what needed it', () => {
    const ports = cloudPorts({ backups: backupsPort }, base);

    expect(() => ports.backups).toThrow(`${CLOUD_VARIABLES.backupBucket} is not set, and the backup store (S3) needs it`);
  });

  it('refuses to build the compute port without the permissions boundary of the tenant task roles', () => {
    const compute = {
      [CLOUD_VARIABLES.cluster]: 'hp-dev-c1',
      [CLOUD_VARIABLES.capacityProvider]: 'hp-dev-c1-fleet',
      [CLOUD_VARIABLES.namespaceId]: 'ns-0123456789',
      [CLOUD_VARIABLES.namespaceName]: 'hp-dev-c1.internal',
      [CLOUD_VARIABLES.fileSystemId]: 'fs-0123456789',
      [CLOUD_VARIABLES.tenantImage]: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/tenant:latest',
      [CLOUD_VARIABLES.tenantExecutionRoleArn]: 'arn:aws:iam::123456789012:role/hp-dev-c1-task-execution',
    };
    const ports = cloudPorts({ compute: computePort }, { ...base, ...compute });

    expect(() => ports.compute).toThrow(`${CLOUD_VARIABLES.tenantPermissionsBoundaryArn} is not set, and the compute port (ECS + Cloud Map) needs it`);
  });

  it('reads the platform config: environment, cells with their limits, waits, a database that requires TLS', () => {
    const config = platformConfig({ ...base, [CLOUD_VARIABLES.healthWaitSeconds]: '120' });

    expect(config).toMatchObject({
      environment: 'dev',
      cells: [{ cell: 'c1', maxTenants: 98, limits: { 'cache users per user group': 98 } }],
      healthWaitSeconds: 120,
      databaseEndpoint: expect.objectContaining({ tls: true }),
    });
  });

  it.each([
    [{ [CLOUD_VARIABLES.environment]: 'Dev!' }, 'HOSTPLANE_ENVIRONMENT="Dev!"'],
    [{ [CLOUD_VARIABLES.cells]: '[' }, 'HOSTPLANE_CELLS is not JSON'],
    [{ [CLOUD_VARIABLES.cells]: '[{"cell":"c1"}]' }, 'HOSTPLANE_CELLS is not a list of cells'],
    [{ [CLOUD_VARIABLES.healthWaitSeconds]: 'soon' }, 'HOSTPLANE_HEALTH_WAIT_SECONDS="soon" is not an integer'],
  ])('refuses a bad platform config with the variable named (%j)', (overrides, message) => {
    expect(() => platformConfig({ ...base, ...overrides })).toThrow(message);
  });
});
