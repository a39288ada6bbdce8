import type { App, Environment } from 'aws-cdk-lib';
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
import { CellStack } from './cell-stack.js';
import { ControlPlaneStack } from './control-plane-stack.js';
import { cacheTenantsPerCache, cellLimits, cellMaxTenants } from './cell-capacity.js';
import type { HostplaneConfig } from './hostplane-config.js';

export interface HostplaneStacks {
  readonly cells: readonly CellStack[];
  readonly controlPlane: ControlPlaneStack;
}

/**
 * Every stack of one environment from its validated config: a cell stack per cell, then the control
 * plane that manages it. `bin/cdk-app.ts` calls this with `cdk.json`'s config; tests with theirs.
 */
export function buildHostplane(app: App, config: HostplaneConfig, env?: Environment): HostplaneStacks {
  const cells = config.cells.map(
    (cell) =>
      new CellStack(app, `Hostplane-${config.environment}-Cell-${cell.name}`, {
        env,
        environment: config.environment,
        cell: cell.name,
        instanceType: new InstanceType(cell.instanceType),
        minCapacity: cell.minCapacity,
        maxCapacity: cell.maxCapacity,
        auroraMinAcu: cell.auroraMinAcu,
        auroraMaxAcu: cell.auroraMaxAcu,
        cacheNodeType: cell.cacheNodeType,
        caches: cell.caches,
        dns: { domain: config.domain, hostedZoneId: config.hostedZoneId },
        multiTenantEdge: config.edgeMode === 'tenant' ? { certificateArn: config.certificateArn } : undefined,
      }),
  );
  const home = cells[0]!;
  const homeConfig = config.cells[0]!;
  const controlPlane = new ControlPlaneStack(app, `Hostplane-${config.environment}-ControlPlane`, {
    env,
    environment: config.environment,
    cell: { cell: homeConfig.name, ...home.resources },
    edge: { mode: config.edgeMode, domain: config.domain, hostedZoneId: config.hostedZoneId, certificateArn: config.certificateArn },
    placement: { maxTenants: cellMaxTenants(homeConfig, config.edgeMode), limits: cellLimits(homeConfig, config.edgeMode), tenantsPerCache: cacheTenantsPerCache() },
    apiThrottling: config.apiThrottling,
    healthWaitSeconds: config.healthWaitSeconds,
    backupRetentionDays: config.backupRetentionDays,
  });
  controlPlane.addStackDependency(home);
  return { cells, controlPlane };
}
