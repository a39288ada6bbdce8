import type { SecretsPort } from '../../lambdas/ports/secrets.js';
import { SecretsManagerSecrets } from '../adapters/secrets-manager-secrets.js';
import type { CloudContext } from '../cloud-context.js';

export function secretsPort(context: CloudContext): SecretsPort {
  return new SecretsManagerSecrets({ client: context.secretsManager() });
}
