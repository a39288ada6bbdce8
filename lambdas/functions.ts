/**
 * Every Lambda of the control plane: its name (the ASL placeholder is `${<Name>FunctionArn}`)
 * and its entry file, which exports `handler`. The local engine and the CDK stack both read this.
 */
export const FUNCTIONS = {
  ValidateTenantRequest: 'lambdas/handlers/validate-tenant-request.ts',
  CreateTenantDatabase: 'lambdas/handlers/create-tenant-database.ts',
  CreateTenantCacheUser: 'lambdas/handlers/create-tenant-cache-user.ts',
  CreateStaticAssets: 'lambdas/handlers/create-static-assets.ts',
  StartTenantCompute: 'lambdas/handlers/start-tenant-compute.ts',
  RegisterTenantRoute: 'lambdas/handlers/register-tenant-route.ts',
  PrepareStarterApp: 'lambdas/handlers/prepare-starter-app.ts',
  MarkTenantActive: 'lambdas/handlers/mark-tenant-active.ts',
  CompensateProvision: 'lambdas/handlers/compensate-provision.ts',
  MarkProvisionFailed: 'lambdas/handlers/mark-provision-failed.ts',
  LoadDefinition: 'lambdas/handlers/load-definition.ts',
  GenerateCode: 'lambdas/handlers/generate-code.ts',
  Compile: 'lambdas/handlers/compile.ts',
  PlanMigrations: 'lambdas/handlers/plan-migrations.ts',
  Migrate: 'lambdas/handlers/migrate.ts',
  Publish: 'lambdas/handlers/publish.ts',
  AwaitHealthy: 'lambdas/handlers/await-healthy.ts',
  MarkDeployed: 'lambdas/handlers/mark-deployed.ts',
  RollBack: 'lambdas/handlers/roll-back.ts',
  MarkDeploymentFailed: 'lambdas/handlers/mark-deployment-failed.ts',
  MarkDeprovisioning: 'lambdas/handlers/mark-deprovisioning.ts',
  ConfirmFinalBackup: 'lambdas/handlers/confirm-final-backup.ts',
  RemoveTenantRoute: 'lambdas/handlers/remove-tenant-route.ts',
  RemoveTenantCompute: 'lambdas/handlers/remove-tenant-compute.ts',
  RemoveStaticAssets: 'lambdas/handlers/remove-static-assets.ts',
  RemoveTenantCacheUser: 'lambdas/handlers/remove-tenant-cache-user.ts',
  RemoveTenantDatabase: 'lambdas/handlers/remove-tenant-database.ts',
  RemoveTenantSecrets: 'lambdas/handlers/remove-tenant-secrets.ts',
  RemoveAppFiles: 'lambdas/handlers/remove-app-files.ts',
  MarkTenantDeleted: 'lambdas/handlers/mark-tenant-deleted.ts',
  MarkDeprovisionFailed: 'lambdas/handlers/mark-deprovision-failed.ts',
  RestoreBackup: 'lambdas/handlers/restore-backup.ts',
  WriteExport: 'lambdas/handlers/write-export.ts',
  FinishBackupOperation: 'lambdas/handlers/finish-backup-operation.ts',
  FailBackupOperation: 'lambdas/handlers/fail-backup-operation.ts',
  ExecutionStatusChanged: 'lambdas/handlers/execution-status-changed.ts',
  ReconcileTenants: 'lambdas/handlers/reconcile-tenants.ts',
  AppDefinitionChanged: 'lambdas/handlers/app-definition-changed.ts',
  CreateTenant: 'lambdas/handlers/api/create-tenant.ts',
  ListTenants: 'lambdas/handlers/api/list-tenants.ts',
  GetTenant: 'lambdas/handlers/api/get-tenant.ts',
  DeleteTenant: 'lambdas/handlers/api/delete-tenant.ts',
  CreateBackup: 'lambdas/handlers/api/create-backup.ts',
  ListBackups: 'lambdas/handlers/api/list-backups.ts',
  ExportBackup: 'lambdas/handlers/api/export-backup.ts',
  RestoreTenant: 'lambdas/handlers/api/restore-tenant.ts',
  GetDrift: 'lambdas/handlers/api/get-drift.ts',
  FixDrift: 'lambdas/handlers/api/fix-drift.ts',
  GetOperation: 'lambdas/handlers/api/get-operation.ts',
  CreateDeployment: 'lambdas/handlers/api/create-deployment.ts',
  ListDeployments: 'lambdas/handlers/api/list-deployments.ts',
  GetDeployment: 'lambdas/handlers/api/get-deployment.ts',
  RollbackDeployment: 'lambdas/handlers/api/rollback-deployment.ts',
  BootstrapRegistry: 'lambdas/handlers/bootstrap-registry.ts',
} as const;

export type FunctionName = keyof typeof FUNCTIONS;

export function isFunctionName(name: string): name is FunctionName {
  return Object.hasOwn(FUNCTIONS, name);
}

/** `${CreateTenantDatabaseFunctionArn}` → `CreateTenantDatabase`. */
export function functionOfPlaceholder(resource: string): FunctionName | undefined {
  const match = /^\$\{([A-Za-z0-9]+)FunctionArn\}$/.exec(resource);
  return match && isFunctionName(match[1]!) ? match[1] : undefined;
}
