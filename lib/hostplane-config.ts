import { z } from 'zod';
import { scopeSchema } from '../lambdas/domain/naming.js';

/**
 * What ops choose in `cdk.json` (context key `hostplane`, or `-c hostplane='{…}'`), validated before
 * any stack is built: a bad value stops synthesis with every problem named by its path.
 */
const dnsName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lowercase DNS name such as apps.example.com');

export const cellConfigSchema = z
  .object({
    name: scopeSchema.shape.cell,
    /** EC2 instance type of the ECS fleet (arm64: the tenant image is built for it). */
    instanceType: z.string().regex(/^[a-z][a-z0-9-]*\d[a-z]*g[a-z]*\.[a-z0-9]+$/, 'must be a Graviton (arm64) instance type such as t4g.large').default('m7g.large'),
    minCapacity: z.number().int().min(0).max(100).default(2),
    maxCapacity: z.number().int().min(1).max(1000).default(10),
    auroraMinAcu: z.number().min(0).max(256).default(0.5),
    auroraMaxAcu: z.number().min(1).max(256).default(16),
    cacheNodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, 'must be an ElastiCache node type such as cache.t4g.small').default('cache.t4g.small'),
    /**
     * How many caches (replication groups, each with its own RBAC user group) the cell has. A user
     * group holds 100 users and a replication group takes one user group, so each cache holds 98
     * tenants' users (lib/cell-capacity.ts); 6 let the cell admit 588, above what its memory admits.
     */
    caches: z.number().int().min(1).max(50).default(6),
    /** Fewer tenants than the cell's limits admit, if ops want headroom. */
    maxTenants: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((cell) => cell.minCapacity <= cell.maxCapacity, { message: 'minCapacity must not exceed maxCapacity', path: ['minCapacity'] })
  .refine((cell) => cell.auroraMinAcu <= cell.auroraMaxAcu, { message: 'auroraMinAcu must not exceed auroraMaxAcu', path: ['auroraMinAcu'] });

export const hostplaneConfigSchema = z
  .object({
    environment: scopeSchema.shape.environment,
    /** The AWS Region of every stack. @default - the CLI's (CDK_DEFAULT_REGION) */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS Region such as eu-west-1').optional(),
    /** The AWS account. @default - the CLI's (CDK_DEFAULT_ACCOUNT) */
    account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id').optional(),
    /** Tenants are served at `<tenant>.<domain>`. */
    domain: dnsName,
    /** The Route 53 public hosted zone of `domain`. */
    hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, 'must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ'),
    /** `tenant` (default): distribution tenants of the cell's multi-tenant distribution; `dedicated`: a distribution per tenant. */
    edgeMode: z.enum(['tenant', 'dedicated']).default('tenant'),
    /** An ACM certificate in us-east-1 for `*.<domain>`: CloudFront serves every tenant's name with it, in both edge modes. */
    certificateArn: z
      .string({ error: 'is required: an ACM certificate in us-east-1 for *.<domain> (CloudFront serves tenants with it)' })
      .regex(/^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]{36}$/, 'must be an ACM certificate ARN in us-east-1'),
    /** The cells of this environment. One per environment in this version (see docs/aws.md). */
    cells: z.array(cellConfigSchema).min(1).max(1, 'one cell per environment in this version: give a dedicated cell its own environment'),
    apiThrottling: z.object({ rateLimit: z.number().int().min(1), burstLimit: z.number().int().min(1) }).strict().optional(),
    healthWaitSeconds: z.number().int().min(5).max(3600).optional(),
    backupRetentionDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();

export type HostplaneConfig = z.output<typeof hostplaneConfigSchema>;
export type CellConfig = z.output<typeof cellConfigSchema>;

export class HostplaneConfigError extends Error {
  override readonly name = 'HostplaneConfigError';
}

/** Parses the `hostplane` context value; throws one error listing every problem with its path (`hostplane.cells.0.maxCapacity`). */
export function parseHostplaneConfig(value: unknown): HostplaneConfig {
  const parsed = typeof value === 'string' ? parseJson(value) : value;
  const result = hostplaneConfigSchema.safeParse(parsed);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  hostplane${issue.path.map((part) => `.${String(part)}`).join('')}: ${issue.message}`);
  throw new HostplaneConfigError(`the cdk.json context "hostplane" is not valid:\n${problems.join('\n')}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HostplaneConfigError(`the context "hostplane" is not JSON: ${text.slice(0, 80)}`);
  }
}
