import type { SecretValue, SecretsPort } from '../../lambdas/ports/secrets.js';

/** The secrets port in memory, for tests that need one but not the 0600 files of the local world. */
export class MemorySecrets implements SecretsPort {
  readonly values = new Map<string, SecretValue>();
  async getOrCreate(name: string, create: () => SecretValue) {
    if (!this.values.has(name)) this.values.set(name, create());
    return this.values.get(name)!;
  }
  async get(name: string) {
    return this.values.get(name);
  }
  async delete(name: string) {
    return this.values.delete(name);
  }
  async list(prefix: string) {
    return [...this.values.keys()].filter((key) => key.startsWith(prefix));
  }
}
