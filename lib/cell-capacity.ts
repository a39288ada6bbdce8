/**
 * How many tenants a cell holds, computed from its settings (DESIGN.md: "capacity is computed, not
 * hoped"). Every hard limit that binds a tenant is a row: the limit, its value, where the value
 * comes from, and how many pooled tenants it admits at these settings. Placement refuses a tenant
 * when any row is full (`lambdas/domain/tenant-plan.ts`), naming it; docs/aws.md shows the table at
 * the default settings, and `test/unit/cell-capacity.test.ts` keeps the two in step.
 *
 * AWS quotas are the defaults of a fresh account: raise one and its constant here together.
 */
import { TIER_DEFAULTS } from '../lambdas/domain/tenant-plan.js';
import { DYNAMIC_HOST_PORTS, ECS_RESERVED_MEMORY_MIB } from './cell/cell-compute.js';
import { DEFAULT_EDGE_TASK_COUNT, EDGE_TASK_SIZE } from './cell/cell-ingress.js';
import { HostplaneConfigError, type CellConfig, type HostplaneConfig } from './hostplane-config.js';

/** One hard limit of a cell. */
export interface CellLimit {
  /** What binds, with its value: the name a refusal quotes. */
  readonly limit: string;
  /** The quota or figure, as a person reads it. */
  readonly value: string;
  /** Where the value comes from: a documentation page, or this project's own choice. */
  readonly source: string;
  /** Pooled tenants it admits at the cell's settings. */
  readonly tenants: number;
}

/** Service quotas and platform figures the table is computed from. */
export const CELL_QUOTAS = {
  /** ElastiCache: users per user group; the disabled `default` user and the control plane's take 2. */
  cacheUsersPerUserGroup: 100,
  platformCacheUsers: 2,
  /** Aurora PostgreSQL: max_connections is LEAST(memory / 9,531,392 bytes, 5000); an ACU is 2 GiB. */
  auroraBytesPerConnection: 9_531_392,
  auroraMaxConnections: 5000,
  /** Connections kept for the control plane and admin work. */
  reservedConnections: 50,
  /** Cloud Map: instances per namespace. A tenant registers 1 task, 2 while ECS rolls its service. */
  cloudMapInstancesPerNamespace: 2000,
  /** EFS: access points per file system; the control plane's admin access point takes 1. */
  efsAccessPointsPerFileSystem: 10_000,
  /** ECS: services per cluster; the edge (Caddy) takes 1. */
  ecsServicesPerCluster: 5000,
  /** CloudFront: distribution tenants per account (edge mode `tenant`). */
  distributionTenantsPerAccount: 10_000,
  /** CloudFront: distributions per account; the console's takes 1 (edge mode `dedicated`). */
  distributionsPerAccount: 500,
  /** CloudFront: distributions per origin access control, and per function (dedicated: all share one OAC and the security-headers function). */
  distributionsPerOriginAccessControl: 100,
  distributionsPerFunction: 100,
  /** CloudFront: functions per account; dedicated tenants have one each, and the shared security-headers function takes 1. */
  cloudFrontFunctionsPerAccount: 100,
  /** IAM: roles per account; one task role per tenant, and the platform's stacks hold about 70 (with CDK's bootstrap): 100 kept. */
  iamRolesPerAccount: 1000,
  platformIamRoles: 100,
  /** S3: general purpose buckets per account; one per tenant, the platform's take a few: 10 kept. */
  s3BucketsPerAccount: 10_000,
  platformBuckets: 10,
  /** Route 53: records per hosted zone; a tenant has an A and an AAAA alias. */
  route53RecordsPerHostedZone: 10_000,
  /** The share of an instance's memory the kernel and platform keep (the ECS guide's m4.large registers 7,985 of 8,192 MiB: 2.5%; we assume twice that). */
  kernelMemoryShare: 0.05,
} as const;

const SOURCES = {
  ec2: 'https://docs.aws.amazon.com/ec2/latest/instancetypes/ (vCPU and memory per type)',
  ecsMemory: 'https://docs.aws.amazon.com/AmazonECS/latest/developerguide/memory-management.html',
  ecsCpu: 'https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html (1,024 CPU units a vCPU)',
  ecsPorts: 'https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PortMapping.html (dynamic host ports)',
  ecsQuotas: 'https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html',
  elastiCache: 'https://docs.aws.amazon.com/general/latest/gr/elasticache-service.html',
  elastiCacheUserGroups: 'https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html (UserGroupIds: the user group, one)',
  aurora: 'https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html (max connections)',
  cloudMap: 'https://docs.aws.amazon.com/cloud-map/latest/dg/cloud-map-limits.html',
  efs: 'https://docs.aws.amazon.com/efs/latest/ug/limits.html',
  cloudFront: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html',
  iam: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html',
  s3: 'https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html',
  route53: 'https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html',
  tierDefaults: 'lambdas/domain/tenant-plan.ts (TIER_DEFAULTS)',
} as const;

/** vCPUs and memory of a Graviton instance type. */
export interface InstanceResources {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

const VCPUS_BY_SIZE: Readonly<Record<string, number>> = {
  medium: 1,
  large: 2,
  xlarge: 4,
  '2xlarge': 8,
  '4xlarge': 16,
  '8xlarge': 32,
  '12xlarge': 48,
  '16xlarge': 64,
  '24xlarge': 96,
  '48xlarge': 192,
};

/** GiB of memory per vCPU by the family's first letter (compute, general purpose, memory optimized). */
const GIB_PER_VCPU_BY_CLASS: Readonly<Record<string, number>> = { c: 2, m: 4, r: 8 };

/** The burstable t4g family does not follow the per-vCPU ratios. */
const T4G: Readonly<Record<string, InstanceResources>> = {
  nano: { vcpus: 2, memoryMiB: 512 },
  micro: { vcpus: 2, memoryMiB: 1024 },
  small: { vcpus: 2, memoryMiB: 2048 },
  medium: { vcpus: 2, memoryMiB: 4096 },
  large: { vcpus: 2, memoryMiB: 8192 },
  xlarge: { vcpus: 4, memoryMiB: 16_384 },
  '2xlarge': { vcpus: 8, memoryMiB: 32_768 },
};

/** vCPUs and memory of `instanceType` (c6g…c8g, m6g…m8g, r6g…r8g with their d/n variants, t4g); other types are refused, by name. */
export function instanceResources(instanceType: string): InstanceResources {
  const [family = '', size = ''] = instanceType.split('.');
  if (family === 't4g' && T4G[size]) return T4G[size];
  const gibPerVcpu = /^[cmr][678]g[dn]*$/.test(family) ? GIB_PER_VCPU_BY_CLASS[family[0]!] : undefined;
  const vcpus = VCPUS_BY_SIZE[size];
  if (gibPerVcpu === undefined || vcpus === undefined) {
    throw new HostplaneConfigError(
      `instanceType ${instanceType}: its vCPUs and memory are not known to lib/cell-capacity.ts (c, m or r of Graviton 2–4, or t4g), so the cell's capacity cannot be computed`,
    );
  }
  return { vcpus, memoryMiB: vcpus * gibPerVcpu * 1024 };
}

/** How many tenants' cache users one of the cell's caches holds: its user group's quota less the platform's users. */
export function cacheTenantsPerCache(): number {
  return CELL_QUOTAS.cacheUsersPerUserGroup - CELL_QUOTAS.platformCacheUsers;
}

/** The cell's hard limits, at its settings, for a cell in this edge mode. */
export function cellLimitsTable(cell: CellConfig, edgeMode: HostplaneConfig['edgeMode']): CellLimit[] {
  const q = CELL_QUOTAS;
  const pooled = TIER_DEFAULTS.pooled;
  const instance = instanceResources(cell.instanceType);
  const instances = cell.maxCapacity;
  const fleet = `${instances} × ${cell.instanceType}`;

  const cpuPerInstance = instance.vcpus * 1024;
  const edgeCpu = DEFAULT_EDGE_TASK_COUNT * EDGE_TASK_SIZE.cpu;
  const registeredMemory = Math.floor(instance.memoryMiB * (1 - q.kernelMemoryShare)) - ECS_RESERVED_MEMORY_MIB;
  const edgeMemory = DEFAULT_EDGE_TASK_COUNT * EDGE_TASK_SIZE.memoryReservationMiB;
  // Tasks are packed per instance: what is left on one instance below a tenant's reservation is lost.
  const perInstance = (capacity: number, reservation: number): number => Math.floor(capacity / reservation);
  const hostPorts = DYNAMIC_HOST_PORTS.to - DYNAMIC_HOST_PORTS.from + 1;
  const auroraConnections = Math.min(Math.floor((cell.auroraMaxAcu * 2 * 1024 ** 3) / q.auroraBytesPerConnection), q.auroraMaxConnections);

  const rows: CellLimit[] = [
    {
      limit: `CPU units reserved (${fleet}, ${pooled.cpuUnits} a pooled tenant)`,
      value: `${cpuPerInstance} units an instance; the edge's ${DEFAULT_EDGE_TASK_COUNT} tasks reserve ${edgeCpu}`,
      source: `${SOURCES.ec2}; ${SOURCES.ecsCpu}; ${SOURCES.tierDefaults}`,
      tenants: perInstance(cpuPerInstance, pooled.cpuUnits) * instances - Math.ceil(edgeCpu / pooled.cpuUnits),
    },
    {
      limit: `memory reserved (${fleet}, ${pooled.memoryReservationMb} MiB a pooled tenant)`,
      value: `${registeredMemory} MiB an instance registers (${instance.memoryMiB} MiB less ${q.kernelMemoryShare * 100}% for the kernel and ECS_RESERVED_MEMORY ${ECS_RESERVED_MEMORY_MIB}); the edge reserves ${edgeMemory}`,
      source: `${SOURCES.ec2}; ${SOURCES.ecsMemory}; ${SOURCES.tierDefaults}`,
      tenants: perInstance(registeredMemory, pooled.memoryReservationMb) * instances - Math.ceil(edgeMemory / pooled.memoryReservationMb),
    },
    {
      limit: `dynamic host ports (${fleet})`,
      value: `${hostPorts} an instance (${DYNAMIC_HOST_PORTS.from}–${DYNAMIC_HOST_PORTS.to}); a tenant holds 1, 2 while its service rolls`,
      source: SOURCES.ecsPorts,
      tenants: Math.floor((hostPorts * instances) / 2),
    },
    {
      limit: `ElastiCache users per user group (${q.cacheUsersPerUserGroup}, ${cell.caches} ${cell.caches === 1 ? 'cache' : 'caches'})`,
      value: `${q.cacheUsersPerUserGroup} a group, of which the platform's default and control-plane users take ${q.platformCacheUsers}; one user group per cache (a replication group takes one), ${cell.caches} ${cell.caches === 1 ? 'cache' : 'caches'}`,
      source: `${SOURCES.elastiCache}; ${SOURCES.elastiCacheUserGroups}`,
      tenants: cacheTenantsPerCache() * cell.caches,
    },
    {
      limit: `Aurora connections at ${cell.auroraMaxAcu} ACU (${pooled.databaseConnectionLimit} a pooled tenant)`,
      value: `${auroraConnections} (LEAST(memory / ${q.auroraBytesPerConnection} bytes, ${q.auroraMaxConnections})), ${q.reservedConnections} kept for the platform`,
      source: `${SOURCES.aurora}; ${SOURCES.tierDefaults}`,
      tenants: Math.floor((auroraConnections - q.reservedConnections) / pooled.databaseConnectionLimit),
    },
    {
      limit: `Cloud Map instances per namespace (${q.cloudMapInstancesPerNamespace})`,
      value: `${q.cloudMapInstancesPerNamespace}; a tenant registers 1 task, 2 while its service rolls`,
      source: SOURCES.cloudMap,
      tenants: Math.floor(q.cloudMapInstancesPerNamespace / 2),
    },
    {
      limit: `EFS access points per file system (${q.efsAccessPointsPerFileSystem})`,
      value: `${q.efsAccessPointsPerFileSystem}, the control plane's admin access point takes 1`,
      source: SOURCES.efs,
      tenants: q.efsAccessPointsPerFileSystem - 1,
    },
    {
      limit: `ECS services per cluster (${q.ecsServicesPerCluster})`,
      value: `${q.ecsServicesPerCluster}, the edge takes 1`,
      source: SOURCES.ecsQuotas,
      tenants: q.ecsServicesPerCluster - 1,
    },
    {
      limit: `IAM roles per account (${q.iamRolesPerAccount})`,
      value: `${q.iamRolesPerAccount}, one task role a tenant; ${q.platformIamRoles} kept for the platform's stacks`,
      source: SOURCES.iam,
      tenants: q.iamRolesPerAccount - q.platformIamRoles,
    },
    {
      limit: `S3 buckets per account (${q.s3BucketsPerAccount})`,
      value: `${q.s3BucketsPerAccount}, one a tenant; ${q.platformBuckets} kept for the platform`,
      source: SOURCES.s3,
      tenants: q.s3BucketsPerAccount - q.platformBuckets,
    },
    {
      limit: `Route 53 records per hosted zone (${q.route53RecordsPerHostedZone})`,
      value: `${q.route53RecordsPerHostedZone}, an A and an AAAA a tenant`,
      source: SOURCES.route53,
      tenants: Math.floor(q.route53RecordsPerHostedZone / 2) - 1,
    },
  ];
  if (edgeMode === 'tenant') {
    rows.push({
      limit: `CloudFront distribution tenants per account (${q.distributionTenantsPerAccount})`,
      value: `${q.distributionTenantsPerAccount}, one a tenant`,
      source: SOURCES.cloudFront,
      tenants: q.distributionTenantsPerAccount,
    });
  } else {
    rows.push(
      {
        limit: `CloudFront distributions per account (${q.distributionsPerAccount})`,
        value: `${q.distributionsPerAccount}, one a tenant; the console's takes 1`,
        source: SOURCES.cloudFront,
        tenants: q.distributionsPerAccount - 1,
      },
      {
        limit: `CloudFront distributions per origin access control (${q.distributionsPerOriginAccessControl})`,
        value: `${q.distributionsPerOriginAccessControl}; every dedicated distribution uses the cell's one`,
        source: SOURCES.cloudFront,
        tenants: q.distributionsPerOriginAccessControl,
      },
      {
        limit: `CloudFront distributions per function (${q.distributionsPerFunction})`,
        value: `${q.distributionsPerFunction}; every dedicated distribution uses the shared security-headers function`,
        source: SOURCES.cloudFront,
        tenants: q.distributionsPerFunction,
      },
      {
        limit: `CloudFront functions per account (${q.cloudFrontFunctionsPerAccount})`,
        value: `${q.cloudFrontFunctionsPerAccount}; a viewer-request function a tenant, the security-headers function takes 1`,
        source: SOURCES.cloudFront,
        tenants: q.cloudFrontFunctionsPerAccount - 1,
      },
    );
  }
  return rows;
}

/** Each hard limit as the number of tenants it admits, keyed by the name a refusal quotes. */
export function cellLimits(cell: CellConfig, edgeMode: HostplaneConfig['edgeMode']): Record<string, number> {
  return Object.fromEntries(cellLimitsTable(cell, edgeMode).map((row) => [row.limit, row.tenants]));
}

/** The most tenants the cell admits: its smallest limit, or fewer if ops said so. */
export function cellMaxTenants(cell: CellConfig, edgeMode: HostplaneConfig['edgeMode']): number {
  return Math.min(cell.maxTenants ?? Number.MAX_SAFE_INTEGER, ...Object.values(cellLimits(cell, edgeMode)));
}

/** The table as docs/aws.md shows it (a test checks the document holds it, at the default settings). */
export function cellLimitsMarkdown(rows: readonly CellLimit[]): string {
  const cell = (text: string): string => text.replaceAll('|', '\\|');
  return [
    '| limit | value | source | tenants per cell |',
    '|---|---|---|---|',
    ...rows.map((row) => `| ${cell(row.limit)} | ${cell(row.value)} | ${cell(row.source)} | ${row.tenants} |`),
  ].join('\n');
}
