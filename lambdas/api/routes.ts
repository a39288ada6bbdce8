import type { FunctionName } from '../functions.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The REST API: API Gateway resources in the cloud, the local HTTP adapter's routing table here. */
export const API_ROUTES: readonly { method: HttpMethod; resource: string; function: FunctionName }[] = [
  { method: 'POST', resource: '/tenants', function: 'CreateTenant' },
  { method: 'GET', resource: '/tenants', function: 'ListTenants' },
  { method: 'GET', resource: '/tenants/{id}', function: 'GetTenant' },
  { method: 'DELETE', resource: '/tenants/{id}', function: 'DeleteTenant' },
  { method: 'POST', resource: '/tenants/{id}/backups', function: 'CreateBackup' },
  { method: 'GET', resource: '/tenants/{id}/backups', function: 'ListBackups' },
  { method: 'POST', resource: '/tenants/{id}/backups/{backupId}/export', function: 'ExportBackup' },
  { method: 'POST', resource: '/tenants/{id}/restore', function: 'RestoreTenant' },
  { method: 'GET', resource: '/drift', function: 'GetDrift' },
  { method: 'POST', resource: '/drift/fix', function: 'FixDrift' },
  { method: 'GET', resource: '/operations/{id}', function: 'GetOperation' },
  { method: 'POST', resource: '/tenants/{id}/deployments', function: 'CreateDeployment' },
  { method: 'GET', resource: '/tenants/{id}/deployments', function: 'ListDeployments' },
  { method: 'GET', resource: '/tenants/{id}/deployments/{deploymentId}', function: 'GetDeployment' },
  { method: 'POST', resource: '/tenants/{id}/deployments/{deploymentId}/rollback', function: 'RollbackDeployment' },
];
