import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { scopeSchema } from '../lambdas/domain/naming.js';
import { CLOUD_VARIABLES, CloudConfigurationError, requireVariable, type CloudEnvironment } from './cloud-environment.js';

/** What every port's builder shares: the environment, one SDK client per kind, secrets read once. */
export interface CloudContext {
  readonly env: CloudEnvironment;
  region(): string;
  /** The environment this control plane serves (`HOSTPLANE_ENVIRONMENT`), checked. */
  environment(): string;
  /** One client per kind, created on first use with the function's region. */
  client<T>(kind: string, create: (config: { region: string }) => T): T;
  secretsManager(): SecretsManagerClient;
  /** A secret's string, read once per execution environment (a failed read is tried again next time). */
  secretString(secretArn: string): Promise<string>;
}

export function cloudContext(env: CloudEnvironment): CloudContext {
  const clients = new Map<string, unknown>();
  const secrets = new Map<string, Promise<string>>();
  const context: CloudContext = {
    env,
    region: () => requireVariable(env, 'region', 'every AWS client'),
    environment: () => {
      const value = requireVariable(env, 'environment', 'every port');
      const parsed = scopeSchema.shape.environment.safeParse(value);
      if (!parsed.success) throw new CloudConfigurationError(`${CLOUD_VARIABLES.environment}=${JSON.stringify(value)}: ${parsed.error.issues[0]?.message}`);
      return parsed.data;
    },
    client: <T>(kind: string, create: (config: { region: string }) => T): T => {
      if (!clients.has(kind)) clients.set(kind, create({ region: context.region() }));
      return clients.get(kind) as T;
    },
    secretsManager: () => context.client('secrets-manager', (c) => new SecretsManagerClient(c)),
    secretString: (secretArn) => {
      let found = secrets.get(secretArn);
      if (!found) {
        found = context
          .secretsManager()
          .send(new GetSecretValueCommand({ SecretId: secretArn }))
          .then((answer) => {
            if (answer.SecretString === undefined) throw new CloudConfigurationError(`secret ${secretArn} holds no string`);
            return answer.SecretString;
          });
        secrets.set(secretArn, found);
        found.catch(() => secrets.delete(secretArn));
      }
      return found;
    },
  };
  return context;
}
