/**
 * The task definition of a tenant's service: the runtime image (the reloader as entrypoint), the
 * tenant's app folder mounted from EFS through its own access point, the environment the reloader
 * reads (runtime/reloader/config.ts, main.ts), the tenant's secrets, and a container health check
 * on the runtime's own health endpoint.
 */
import { createHash } from 'node:crypto';
import type { RegisterTaskDefinitionCommandInput, Secret, Tag } from '@aws-sdk/client-ecs';
import type { ComputeSpec } from '../../lambdas/ports/compute.js';
import { RUNTIME_HEALTH_PATH } from '../../runtime/reloader/runtime-health.js';
import { TENANT_CONTAINER_NAME } from './tenant-compute-names.js';

/** Where the tenant's access point is mounted in the container: the reloader's `HOSTPLANE_APP_DIR`. */
export const CONTAINER_APP_DIR = '/srv/hostplane/app';
/** The tag holding a hash of the definition, so an unchanged spec reuses the latest revision instead of registering another. */
export const SPEC_HASH_TAG = 'hostplane:spec-hash';
const APP_FILES_VOLUME = 'app-files';
/** Seconds ECS waits after SIGTERM before SIGKILL (at most 120 on EC2); the reloader drains within its own, shorter deadline. */
const STOP_TIMEOUT_SECONDS = 30;
const DRAIN_DEADLINE_MS = 20_000;
/** Connections each release's pool may hold. */
const DATABASE_POOL_MAX = 3;

/** Everything a tenant's task definition is made of. */
export interface TenantTaskDefinitionSettings {
  readonly spec: ComputeSpec;
  readonly image: string;
  readonly executionRoleArn: string;
  readonly taskRoleArn: string;
  readonly fileSystemId: string;
  readonly accessPointId: string;
  readonly secrets: readonly Secret[];
  readonly appPort: number;
  readonly runtimeHealthPort: number;
  readonly logGroup: string;
  readonly region: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** The reloader's environment in the container (secrets come apart, from `secrets`). */
export function tenantEnvironment(settings: TenantTaskDefinitionSettings): Record<string, string> {
  const { spec } = settings;
  return {
    HOSTPLANE_TENANT_ID: spec.tenantId,
    HOSTPLANE_APP_DIR: CONTAINER_APP_DIR,
    // bridge: the container has its own network namespace; Docker publishes PORT on a dynamic host port.
    HOST: '0.0.0.0',
    PORT: String(settings.appPort),
    HOSTPLANE_RUNTIME_HEALTH_HOST: '127.0.0.1',
    HOSTPLANE_RUNTIME_HEALTH_PORT: String(settings.runtimeHealthPort),
    HOSTPLANE_DRAIN_DEADLINE_MS: String(DRAIN_DEADLINE_MS),
    // Old and new release overlap during a swap: 2 × 3 is within a pooled role's limit of 6 (tenant-plan.ts).
    HOSTPLANE_DB_POOL_MAX: String(DATABASE_POOL_MAX),
    ...(spec.assetsBucket !== undefined ? { HOSTPLANE_ASSETS_BUCKET: spec.assetsBucket } : {}),
  };
}

/**
 * The RegisterTaskDefinition input, tagged with the hash of everything else in it.
 *
 * Bridge networking with a dynamic host port (`hostPort: 0`): tasks share their instance's network
 * interface, so an instance holds as many tenants as its CPU and memory allow instead of one per
 * ENI (awsvpc: 2 on an m7g.large), and ECS writes the host port it picked into the tenant's SRV
 * record (the service registry names the container and its port). Sizes are the container's: a
 * soft reservation that placement packs by, a hard limit that stops one tenant starving the rest.
 *
 * The runtime
 * health check runs `node` (the image's own runtime) inside the container, against the loopback
 * port where the reloader answers `/__runtime/healthz` whatever the app's state: a broken release
 * is the deploy's rollback to handle, not a reason to replace the container.
 */
export function tenantTaskDefinition(settings: TenantTaskDefinitionSettings): RegisterTaskDefinitionCommandInput {
  const { spec } = settings;
  const healthUrl = `http://127.0.0.1:${settings.runtimeHealthPort}${RUNTIME_HEALTH_PATH}`;
  const definition: RegisterTaskDefinitionCommandInput = {
    family: spec.serviceName,
    taskRoleArn: settings.taskRoleArn,
    executionRoleArn: settings.executionRoleArn,
    networkMode: 'bridge',
    requiresCompatibilities: ['EC2'],
    containerDefinitions: [
      {
        name: TENANT_CONTAINER_NAME,
        image: settings.image,
        essential: true,
        cpu: spec.cpuUnits,
        memory: spec.memoryMb,
        memoryReservation: Math.min(spec.memoryReservationMb ?? spec.memoryMb, spec.memoryMb),
        // Only the app's port is published; the runtime's health port stays on the container's loopback.
        portMappings: [{ name: 'http', containerPort: settings.appPort, hostPort: 0, protocol: 'tcp' }],
        environment: Object.entries(tenantEnvironment(settings)).map(([name, value]) => ({ name, value })),
        secrets: [...settings.secrets],
        // Read-write: the reloader writes status.json beside `current`. The access point confines the
        // mount to the tenant's own folder and runs every operation as its user, so writing is safe.
        mountPoints: [{ sourceVolume: APP_FILES_VOLUME, containerPath: CONTAINER_APP_DIR, readOnly: false }],
        logConfiguration: {
          logDriver: 'awslogs',
          options: { 'awslogs-group': settings.logGroup, 'awslogs-region': settings.region, 'awslogs-stream-prefix': spec.tenantId },
        },
        healthCheck: {
          command: ['CMD', 'node', '-e', `fetch(${JSON.stringify(healthUrl)}).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
          interval: 10,
          timeout: 5,
          retries: 3,
          startPeriod: 20,
        },
        stopTimeout: STOP_TIMEOUT_SECONDS,
      },
    ],
    volumes: [
      {
        name: APP_FILES_VOLUME,
        efsVolumeConfiguration: {
          fileSystemId: settings.fileSystemId,
          transitEncryption: 'ENABLED',
          // IAM on: the mount is authorised with the task role, whose policy names this access point only.
          authorizationConfig: { accessPointId: settings.accessPointId, iam: 'ENABLED' },
        },
      },
    ],
  };
  const tags: Tag[] = Object.entries({ ...settings.tags, 'hostplane:tenant': spec.tenantId, [SPEC_HASH_TAG]: specHash(definition) }).map(
    ([key, value]) => ({ key, value }),
  );
  return { ...definition, tags };
}

/** A short hash of a definition (without its tags): equal hashes, equal definitions. */
export function specHash(definition: RegisterTaskDefinitionCommandInput): string {
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 32);
}
