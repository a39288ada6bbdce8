import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { TransientError } from '../../lambdas/domain/errors.js';
import type { SecretValue, SecretsPort } from '../../lambdas/ports/secrets.js';
import { callAws, isAwsError, toDomainError } from './aws-errors.js';
import { realSleep } from './poll-until.js';

/** The same name rules as the local adapter, so a name that works in one world works in the other. */
const NAME = /^[a-z0-9][a-z0-9/_-]{0,200}$/;
const PREFIX = /^[a-z0-9/_-]{0,201}$/;

export interface SecretsManagerSecretsOptions {
  readonly client: SecretsManagerClient;
  /** The KMS key new secrets are encrypted with. @default the account's `aws/secretsmanager` key */
  readonly kmsKeyId?: string;
  /** Tags put on every secret this adapter creates. */
  readonly tags?: Readonly<Record<string, string>>;
  /** How many rounds getOrCreate tries while a name is still being freed or a racing create settles. @default 6 */
  readonly attempts?: number;
  /** Waits between those rounds; tests pass one that does not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What a secret's name holds right now. */
type Lookup = { readonly state: 'present'; readonly value: SecretValue } | { readonly state: 'absent' } | { readonly state: 'deleting' };

/**
 * The secrets port on AWS Secrets Manager: one secret per name, its value a JSON object of strings.
 *
 * Deleting is immediate (ForceDeleteWithoutRecovery), so a tenant id can be reused at once and an
 * old tenant's credentials never come back. A secret someone else scheduled for deletion (with a
 * recovery window) is treated as gone: getOrCreate force-deletes it and creates a fresh one rather
 * than restoring the old value.
 */
export class SecretsManagerSecrets implements SecretsPort {
  private readonly client: SecretsManagerClient;
  private readonly attempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: SecretsManagerSecretsOptions) {
    this.client = options.client;
    this.attempts = options.attempts ?? 6;
    this.sleep = options.sleep ?? realSleep;
  }

  async getOrCreate(name: string, create: () => SecretValue): Promise<SecretValue> {
    checkName(name);
    let value: SecretValue | undefined;
    let forced = false;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await this.sleep(Math.min(250 * 2 ** (attempt - 2), 4_000));
      const found = await this.lookup(name);
      if (found.state === 'present') return found.value;
      if (found.state === 'absent') {
        value ??= checkedValue(name, create());
        const created = await this.create(name, value);
        // 'exists': a concurrent caller won; the next round reads its value, the first one stored.
        if (created === 'created') return value;
        if (created === 'exists') continue;
      }
      // Scheduled for deletion: free the name now instead of waiting out the recovery window.
      if (!forced) {
        await this.forceDelete(name);
        forced = true;
      }
    }
    throw new TransientError(`secret ${name}: still being deleted or changing after ${this.attempts} attempts`);
  }

  async get(name: string): Promise<SecretValue | undefined> {
    checkName(name);
    const found = await this.lookup(name);
    return found.state === 'present' ? found.value : undefined;
  }

  /** True when a live secret was there; one already scheduled for deletion is finished off and counts as absent. */
  async delete(name: string): Promise<boolean> {
    checkName(name);
    // A forced DeleteSecret never answers ResourceNotFoundException (it is made retry-safe), so it
    // cannot say whether the secret existed: DescribeSecret first (DeleteSecret API reference).
    let live: boolean;
    try {
      const described = await this.client.send(new DescribeSecretCommand({ SecretId: name }));
      live = described.DeletedDate === undefined;
    } catch (error) {
      if (isAwsError(error, 'ResourceNotFoundException')) return false;
      throw toDomainError(error, `describing secret ${name}`);
    }
    await this.forceDelete(name);
    return live;
  }

  async list(prefix: string): Promise<string[]> {
    if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.split('/').includes('..')) {
      throw new Error(`${JSON.stringify(prefix)} is not a secret name prefix (lowercase letters, digits, / _ -)`);
    }
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await callAws(`listing secrets under ${prefix}`, () =>
        this.client.send(
          new ListSecretsCommand({
            // The `name` filter is a case-sensitive prefix match; we still keep only exact prefix matches below.
            Filters: prefix === '' ? undefined : [{ Key: 'name', Values: [prefix] }],
            NextToken: nextToken,
          }),
        ),
      );
      for (const entry of page.SecretList ?? []) {
        if (entry.Name !== undefined && entry.DeletedDate === undefined && entry.Name.startsWith(prefix)) names.push(entry.Name);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return [...new Set(names)].sort();
  }

  private async lookup(name: string): Promise<Lookup> {
    let secretString: string | undefined;
    try {
      const answer = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
      secretString = answer.SecretString;
    } catch (error) {
      if (isAwsError(error, 'ResourceNotFoundException')) return { state: 'absent' };
      if (isScheduledForDeletion(error)) return { state: 'deleting' };
      throw toDomainError(error, `reading secret ${name}`);
    }
    if (secretString === undefined) throw new Error(`secret ${name}: it holds no string value`);
    let value: unknown;
    try {
      value = JSON.parse(secretString);
    } catch (error) {
      throw new Error(`secret ${name}: its value is not JSON`, { cause: error });
    }
    return { state: 'present', value: checkedValue(name, value) };
  }

  private async create(name: string, value: SecretValue): Promise<'created' | 'exists' | 'deleting'> {
    const { kmsKeyId, tags } = this.options;
    try {
      await this.client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: JSON.stringify(value),
          KmsKeyId: kmsKeyId,
          Tags: tags ? Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) : undefined,
        }),
      );
      return 'created';
    } catch (error) {
      if (isAwsError(error, 'ResourceExistsException')) return 'exists';
      // The name's previous secret is still being deleted (asynchronously, even when forced).
      if (isScheduledForDeletion(error)) return 'deleting';
      throw toDomainError(error, `creating secret ${name}`);
    }
  }

  private async forceDelete(name: string): Promise<void> {
    await callAws(`deleting secret ${name}`, () => this.client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true })));
  }
}

/** Secrets Manager answers InvalidRequestException "…marked/scheduled for deletion" for a secret in its recovery window. */
function isScheduledForDeletion(error: unknown): boolean {
  return isAwsError(error, 'InvalidRequestException') && error instanceof Error && /deletion/i.test(error.message);
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name) || name.endsWith('/') || name.split('/').some((part) => part === '' || part === '..')) {
    throw new Error(`${JSON.stringify(name)} is not a secret name (like hostplane/dev/c1/acme/database)`);
  }
}

function checkedValue(name: string, value: unknown): SecretValue {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((field) => typeof field === 'string')) {
    throw new Error(`secret ${name}: a secret is an object of string fields`);
  }
  return value as SecretValue;
}
