import middy from '@middy/core';
import type { TenantPlan } from '../domain/tenant-plan.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import { planProvision } from '../provision/plan-provision.js';
import type { ProvisionExecutionInput } from '../provision/workflow-input.js';

export function validateTenantRequest(event: ProvisionExecutionInput): Promise<TenantPlan> {
  const { sql, config } = ports();
  return planProvision(event, sql, config);
}

export const handler = middy<ProvisionExecutionInput, TenantPlan>().use(trackStep('ValidateTenantRequest')).handler(validateTenantRequest);
