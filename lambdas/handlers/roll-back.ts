import middy from '@middy/core';
import { rollBackDeploymentAndFrontEnd } from '../deploy/activate-release.js';
import type { DeployFailureInput } from '../deploy/deploy-input.js';
import { loadDeployment } from '../deploy/load-deployment.js';
import { trackStep } from '../middleware/track-step.js';
import { ports } from '../ports/index.js';

type RolledBack = Awaited<ReturnType<typeof rollBackDeploymentAndFrontEnd>>;

export async function rollBack(event: DeployFailureInput): Promise<RolledBack> {
  const { sql, appFiles, edge } = ports();
  const deployment = event.deployment ?? (await loadDeployment(event, sql));
  return rollBackDeploymentAndFrontEnd(event.deploymentId, sql, appFiles, edge, deployment.names);
}

export const handler = middy<DeployFailureInput, RolledBack>().use(trackStep('RollBack')).handler(rollBack);
