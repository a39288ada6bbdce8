import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { PermanentError } from '../../lambdas/domain/errors.js';
import { registryDatabaseName } from '../../lambdas/domain/naming.js';
import type { SqlPort } from '../../lambdas/ports/sql.js';
import { PgServerStatements } from '../adapters/pg-server-statements.js';
import { RdsDataSql } from '../adapters/rds-data-sql.js';
import type { CloudContext } from '../cloud-context.js';
import { CLOUD_VARIABLES, integerVariable, requireVariable } from '../cloud-environment.js';

/** The registry and tenant databases through the RDS Data API; CREATE/DROP DATABASE over pg when the stack says so (ADR 0005). */
export function sqlPort(context: CloudContext): SqlPort {
  const { env } = context;
  const neededFor = 'the sql port (registry and tenant databases through the RDS Data API)';
  const secretArn = requireVariable(env, 'databaseSecretArn', neededFor);
  const serverStatements =
    env[CLOUD_VARIABLES.databaseServerStatements] === 'pg'
      ? new PgServerStatements({
          host: requireVariable(env, 'databaseHost', 'CREATE/DROP DATABASE over pg'),
          port: integerVariable(env, 'databasePort', 'CREATE/DROP DATABASE over pg', 1, 65_535),
          credentials: async () => JSON.parse(await context.secretString(secretArn)) as { username: string; password: string },
        })
      : undefined;
  return new RdsDataSql({
    client: context.client('rds-data', (c) => new RDSDataClient(c)),
    resourceArn: requireVariable(env, 'databaseClusterArn', neededFor),
    secretArn,
    database: registryDatabaseName(context.environment()),
    serverStatements,
    // A tenant's login (migrations, backups: ADR 0009) signs in with the tenant's database secret, by its full ARN.
    secretArnOf: async (secretName) => {
      const { ARN } = await context.secretsManager().send(new DescribeSecretCommand({ SecretId: secretName }));
      if (!ARN) throw new PermanentError(`secret ${secretName} has no ARN`);
      return ARN;
    },
  });
}
