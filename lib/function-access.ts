import type { FunctionName } from '../lambdas/functions.js';
import type { JobName } from '../lambdas/jobs.js';

/**
 * What a Lambda may reach besides the registry. Every function reaches the registry (the `sql`
 * port through the Data API: step tracking records every step), so `sql` is implied.
 * - `databaseServer`: CREATE/DROP DATABASE and ROLE on the cell's cluster over `pg` from the VPC (ADR 0005);
 * - `appFiles`: the cell's EFS mounted at /mnt/hostplane (so: in the VPC);
 * - `notices`: PUBLISH on the cell's cache (in the VPC);
 * - the others: their AWS APIs, scoped to this environment's resources.
 */
export const ACCESS_KINDS = [
  'databaseServer',
  'secrets',
  'cacheUsers',
  'compute',
  'appFiles',
  'edge',
  'workflows',
  'notices',
  'backups',
] as const;
export type AccessKind = (typeof ACCESS_KINDS)[number];

/** The ports the tenant-resource removals reach between them (deprovision's compensation and drift fixing). */
const REMOVES_EVERYTHING: readonly AccessKind[] = ['databaseServer', 'secrets', 'cacheUsers', 'compute', 'edge', 'appFiles'];
/** What finding drift reads: every kind of tenant resource. */
const READS_EVERYTHING: readonly AccessKind[] = ['secrets', 'cacheUsers', 'compute', 'edge', 'appFiles'];

/**
 * Each function's access, beyond the registry. The stack grants exactly this (IAM, VPC placement,
 * the EFS mount, the environment variables of those ports), and a test checks it against what each
 * handler takes from `ports()`. A function missing here fails to type-check.
 */
export const FUNCTION_ACCESS: Readonly<Record<FunctionName, readonly AccessKind[]>> = {
  ValidateTenantRequest: [],
  CreateTenantDatabase: ['databaseServer', 'secrets'],
  CreateTenantCacheUser: ['cacheUsers', 'secrets'],
  CreateStaticAssets: ['edge', 'appFiles'],
  StartTenantCompute: ['compute'],
  RegisterTenantRoute: ['edge'],
  PrepareStarterApp: [],
  MarkTenantActive: [],
  CompensateProvision: REMOVES_EVERYTHING,
  MarkProvisionFailed: [],
  LoadDefinition: [],
  GenerateCode: ['appFiles'],
  Compile: ['appFiles'],
  PlanMigrations: [],
  // `secrets`: migrations run on the tenant's own login, read from its database secret (ADR 0009).
  Migrate: ['secrets'],
  // `edge`: Publish writes the release's front end to the tenant's asset bucket, RollBack writes the current one's again.
  Publish: ['appFiles', 'edge', 'notices'],
  AwaitHealthy: ['appFiles'],
  MarkDeployed: ['appFiles', 'edge'],
  RollBack: ['appFiles', 'edge'],
  MarkDeploymentFailed: [],
  MarkDeprovisioning: [],
  ConfirmFinalBackup: [],
  RemoveTenantRoute: ['edge'],
  RemoveTenantCompute: ['compute'],
  RemoveStaticAssets: ['edge'],
  // Each removal also deletes the secret it made (`removeTenantResource` hands on every port, so the
  // handler-level check cannot see this use: the cloud rehearsal found both missing).
  RemoveTenantCacheUser: ['cacheUsers', 'secrets'],
  RemoveTenantDatabase: ['databaseServer', 'secrets'],
  RemoveTenantSecrets: ['secrets'],
  RemoveAppFiles: ['appFiles'],
  MarkTenantDeleted: [],
  MarkDeprovisionFailed: [],
  RestoreBackup: ['backups'],
  WriteExport: ['backups'],
  // A restore of another app deploys that app again.
  FinishBackupOperation: ['workflows'],
  FailBackupOperation: [],
  ExecutionStatusChanged: ['appFiles', 'edge'],
  ReconcileTenants: REMOVES_EVERYTHING,
  AppDefinitionChanged: ['workflows'],
  CreateTenant: ['workflows'],
  ListTenants: [],
  GetTenant: [],
  DeleteTenant: ['workflows'],
  // Backup, restore and export start the backup state machine, which does the work.
  CreateBackup: ['workflows'],
  ListBackups: [],
  ExportBackup: ['workflows'],
  RestoreTenant: ['workflows'],
  GetDrift: READS_EVERYTHING,
  FixDrift: REMOVES_EVERYTHING,
  // An export's operation carries a presigned link to its archive (signed with the function's own rights).
  GetOperation: ['backups'],
  CreateDeployment: ['workflows'],
  ListDeployments: [],
  GetDeployment: [],
  RollbackDeployment: ['workflows'],
  // The stack's custom resource (ADR 0008): creates the registry database over pg, then migrates it.
  BootstrapRegistry: ['databaseServer'],
};

/** Each job's access (`lambdas/jobs.ts`): its ECS task role gets exactly this, beyond the registry. */
export const JOB_ACCESS: Readonly<Record<JobName, readonly AccessKind[]>> = {
  // `secrets`: the tables are read on the tenant's own login, from its database secret (ADR 0009).
  BackupTenant: ['backups', 'secrets'],
};

/** Whether the function runs in the cell's VPC: it mounts EFS, talks to the cache, or opens a pg connection. */
export function runsInVpc(access: readonly AccessKind[]): boolean {
  return access.some((kind) => kind === 'appFiles' || kind === 'notices' || kind === 'databaseServer');
}
