import { PermanentError } from '../domain/errors.js';
import type { TenantResourceNames } from '../domain/naming.js';
import type { SecretsPort } from '../ports/secrets.js';
import type { SqlPort } from '../ports/sql.js';

/**
 * The SQL port signed in as the tenant's own login, from the tenant's database secret. Every
 * statement that can make tenant-made objects run (a trigger, a rule, a default, a view, a
 * policy, a deferred trigger at COMMIT) goes through it: PostgreSQL's `SET ROLE` is no boundary,
 * since code running in an admin session may `RESET ROLE` back to the admin (docs/security.md,
 * ADR 0009). Refuses rather than fall back to the admin's login.
 */
export async function signInAsTenant(sql: SqlPort, secrets: SecretsPort, names: TenantResourceNames): Promise<SqlPort> {
  if (!sql.signedInAs) {
    throw new PermanentError("this SQL adapter cannot sign in as a tenant's login, and tenant-made objects never run on the platform's");
  }
  const secret = await secrets.get(names.databaseSecret);
  if (!secret?.username || !secret.password) throw new PermanentError(`the tenant's database secret ${names.databaseSecret} is missing or has no login`);
  if (secret.username !== names.role) {
    throw new PermanentError(`the tenant's database secret ${names.databaseSecret} signs in as ${JSON.stringify(secret.username)}, not as the tenant's role`);
  }
  return sql.signedInAs({ secretName: names.databaseSecret, username: secret.username, password: secret.password });
}
