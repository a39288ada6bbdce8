import middy from '@middy/core';
import { awaitReleaseHealthy } from '../deploy/activate-release.js';
import type { AwaitHealthyInput } from '../deploy/deploy-input.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';

type Healthy = Awaited<ReturnType<typeof awaitReleaseHealthy>>;

/** Seconds the runtime has to report a release, unless the platform config says otherwise. */
export const DEFAULT_HEALTH_WAIT_SECONDS = 90;

export function awaitHealthy(event: AwaitHealthyInput): Promise<Healthy> {
  const { appFiles, config, sql } = ports();
  return awaitReleaseHealthy(event, appFiles, {
    timeoutMs: (config.healthWaitSeconds ?? DEFAULT_HEALTH_WAIT_SECONDS) * 1000,
    stillWanted: async () => (await new DeploymentRegistry(sql).get(event.deployment.deploymentId))?.status === 'RUNNING',
  });
}

export const handler = middy<AwaitHealthyInput, Healthy>().use(trackStep('AwaitHealthy')).handler(awaitHealthy);
