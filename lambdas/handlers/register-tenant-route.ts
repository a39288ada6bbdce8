import middy from '@middy/core';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import type { StepOutcome } from '../provision/step-outcome.js';
import type { PlannedStepInput } from '../provision/workflow-input.js';
import { TenantRegistry } from '../registry/tenant-registry.js';

export interface RegisterRouteInput extends PlannedStepInput {
  readonly endpoint: string;
}

export async function registerTenantRoute(event: RegisterRouteInput): Promise<StepOutcome> {
  const { edge, sql } = ports();
  const { names } = event.plan;
  const { url } = await edge.registerRoute({
    tenantId: event.plan.tenantId,
    hostLabel: names.hostLabel,
    endpoint: event.endpoint,
    assetsBucket: names.assetsBucket,
  });
  await new TenantRegistry(sql).setServing(event.plan.tenantId, { url });
  return { status: 'created', url };
}

export const handler = middy<RegisterRouteInput, StepOutcome>().use(trackStep('RegisterTenantRoute')).handler(registerTenantRoute);
