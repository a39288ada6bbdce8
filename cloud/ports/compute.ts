import { ECSClient } from '@aws-sdk/client-ecs';
import { EFSClient } from '@aws-sdk/client-efs';
import { IAMClient } from '@aws-sdk/client-iam';
import { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { ComputePort } from '../../lambdas/ports/compute.js';
import { EcsCompute } from '../adapters/ecs-compute.js';
import type { CloudContext } from '../cloud-context.js';
import { requireVariable } from '../cloud-environment.js';

export function computePort(context: CloudContext): ComputePort {
  const { env } = context;
  const neededFor = 'the compute port (ECS + Cloud Map)';
  return new EcsCompute({
    ecs: context.client('ecs', (c) => new ECSClient(c)),
    serviceDiscovery: context.client('servicediscovery', (c) => new ServiceDiscoveryClient(c)),
    efs: context.client('efs', (c) => new EFSClient(c)),
    iam: context.client('iam', (c) => new IAMClient(c)),
    secretsManager: context.secretsManager(),
    cluster: requireVariable(env, 'cluster', neededFor),
    capacityProvider: requireVariable(env, 'capacityProvider', neededFor),
    namespace: { id: requireVariable(env, 'namespaceId', neededFor), name: requireVariable(env, 'namespaceName', neededFor) },
    fileSystemId: requireVariable(env, 'fileSystemId', neededFor),
    tenantImage: requireVariable(env, 'tenantImage', neededFor),
    executionRoleArn: requireVariable(env, 'tenantExecutionRoleArn', neededFor),
    permissionsBoundaryArn: requireVariable(env, 'tenantPermissionsBoundaryArn', neededFor),
    logGroupName: requireVariable(env, 'tenantLogGroup', neededFor),
    region: context.region(),
    accountId: requireVariable(env, 'accountId', neededFor),
    environment: context.environment(),
  });
}
