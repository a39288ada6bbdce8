/**
 * The `secrets` of a tenant's container: each variable names one key of one JSON secret, which
 * ECS reads when the task starts, so no secret value passes through the control plane.
 */
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Secret } from '@aws-sdk/client-ecs';
import { TransientError } from '../../lambdas/domain/errors.js';
import type { SecretEnvironmentVariable } from '../../lambdas/ports/compute.js';
import { isAwsError, toDomainError } from './aws-errors.js';

/**
 * Resolves each variable to `{ name, valueFrom: '<secret ARN>:<key>::' }`. ECS takes only a
 * secret's full ARN (with Secrets Manager's random suffix) when a JSON key is named (ECS API
 * reference, `Secret.valueFrom`), so every secret is looked up by DescribeSecret, which also says
 * whether it exists: an optional variable whose secret is missing (or scheduled for deletion) is left
 * out, because ECS would refuse to start the task; a required one is a TransientError (its secret
 * is written by an earlier step and may not be visible yet). A key that is missing inside an
 * existing secret cannot be seen without reading the value, which this adapter never does.
 */
export async function secretReferences(secretsManager: SecretsManagerClient, variables: readonly SecretEnvironmentVariable[]): Promise<Secret[]> {
  const arns = new Map<string, string | undefined>();
  const references: Secret[] = [];
  for (const variable of variables) {
    if (!arns.has(variable.secretName)) arns.set(variable.secretName, await secretArn(secretsManager, variable.secretName));
    const arn = arns.get(variable.secretName);
    if (arn !== undefined) references.push({ name: variable.name, valueFrom: `${arn}:${variable.key}::` });
    else if (!variable.optional) throw new TransientError(`secret ${variable.secretName} (for ${variable.name}) does not exist yet`);
  }
  return references;
}

async function secretArn(secretsManager: SecretsManagerClient, secretName: string): Promise<string | undefined> {
  try {
    const secret = await secretsManager.send(new DescribeSecretCommand({ SecretId: secretName }));
    return secret.DeletedDate ? undefined : secret.ARN;
  } catch (error) {
    if (isAwsError(error, 'ResourceNotFoundException')) return undefined;
    throw toDomainError(error, `looking up secret ${secretName}`);
  }
}
