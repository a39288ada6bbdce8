import { z } from 'zod';

/** Words a tenant may not take: they name parts of the platform or mislead in a hostname. */
export const RESERVED_TENANT_IDS: ReadonlySet<string> = new Set([
  'admin', 'api', 'app', 'apps', 'assets', 'auth', 'cdn', 'console', 'control', 'dashboard',
  'default', 'docs', 'edge', 'help', 'hostplane', 'internal', 'localhost', 'login', 'mail',
  'null', 'platform', 'root', 'static', 'status', 'support', 'system', 'tenant', 'tenants',
  'test', 'undefined', 'www',
]);

export const TENANT_ID_MIN = 3;
export const TENANT_ID_MAX = 40;

declare const tenantIdBrand: unique symbol;
/** A tenant id that passed {@link tenantIdSchema}: safe as a DNS label and inside every derived name. */
export type TenantId = string & { readonly [tenantIdBrand]: true };

export const tenantIdSchema = z
  .string({ error: 'must be a string' })
  .min(TENANT_ID_MIN, `must be ${TENANT_ID_MIN} to ${TENANT_ID_MAX} characters`)
  .max(TENANT_ID_MAX, `must be ${TENANT_ID_MIN} to ${TENANT_ID_MAX} characters`)
  .regex(/^[a-z0-9-]+$/, 'may contain only lowercase letters, digits and hyphens')
  .regex(/^[a-z]/, 'must start with a letter')
  .regex(/[a-z0-9]$/, 'must not end with a hyphen')
  .refine((id) => !id.includes('--'), 'must not contain two hyphens in a row')
  .refine((id) => !RESERVED_TENANT_IDS.has(id), 'is a reserved word')
  .transform((id) => id as TenantId);
