export type SecretValue = Readonly<Record<string, string>>;

/** Secrets (Secrets Manager in the cloud; 0600 files locally). Names are derived by the naming function. */
export interface SecretsPort {
  /** Returns the secret if it exists, else stores `create()` and returns it: retries reuse the first value. */
  getOrCreate(name: string, create: () => SecretValue): Promise<SecretValue>;
  get(name: string): Promise<SecretValue | undefined>;
  /** Deletes the secret if present; says whether it was. */
  delete(name: string): Promise<boolean>;
  /** Names of the secrets that start with `prefix`. */
  list(prefix: string): Promise<string[]>;
}
