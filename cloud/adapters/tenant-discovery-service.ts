/**
 * The tenant's Cloud Map service: one SRV record, `<tenant>.<namespace>`, which ECS fills with
 * the tenant's running tasks and the edge (Caddy's `dynamic srv`) asks for.
 */
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  ListServicesCommand,
  type ServiceDiscoveryClient,
  type ServiceSummary,
} from '@aws-sdk/client-servicediscovery';
import { TransientError } from '../../lambdas/domain/errors.js';
import { callAws, isAwsError, toDomainError } from './aws-errors.js';
import type { TenantComputeNames } from './tenant-compute-names.js';

/** A Cloud Map service, by the two handles ECS and Cloud Map ask for. */
export interface DiscoveryService {
  readonly id: string;
  readonly arn: string;
}

export interface TenantDiscoveryServicesOptions {
  readonly serviceDiscovery: ServiceDiscoveryClient;
  readonly namespace: { readonly id: string; readonly name: string };
  readonly tags: Readonly<Record<string, string>>;
}

/** Seconds a resolver may cache the record: short, so a replaced task is found soon. */
export const SRV_TTL_SECONDS = 10;

/** Creates, adopts and removes tenants' Cloud Map services in the cell's namespace. */
export class TenantDiscoveryServices {
  constructor(private readonly options: TenantDiscoveryServicesOptions) {}

  /** The DNS name the tenant's SRV record answers to. */
  endpointOf(names: TenantComputeNames): string {
    return `${names.discoveryService}.${this.options.namespace.name}`;
  }

  /**
   * Creates the service with an SRV record and custom health (ECS reports its tasks' health), or
   * adopts the existing one: Cloud Map's ServiceAlreadyExists carries its id and ARN.
   */
  async ensure(names: TenantComputeNames): Promise<DiscoveryService> {
    const { serviceDiscovery, namespace, tags } = this.options;
    try {
      const created = await serviceDiscovery.send(
        new CreateServiceCommand({
          Name: names.discoveryService,
          NamespaceId: namespace.id,
          CreatorRequestId: names.idempotencyToken,
          Description: `Hostplane tenant ${names.tenantId} (${names.serviceName})`,
          DnsConfig: { RoutingPolicy: 'MULTIVALUE', DnsRecords: [{ Type: 'SRV', TTL: SRV_TTL_SECONDS }] },
          HealthCheckCustomConfig: { FailureThreshold: 1 },
          Tags: Object.entries({ ...tags, 'hostplane:tenant': names.tenantId }).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      if (created.Service?.Id && created.Service.Arn) return { id: created.Service.Id, arn: created.Service.Arn };
    } catch (error) {
      if (!isAwsError(error, 'ServiceAlreadyExists')) throw toDomainError(error, `creating Cloud Map service ${this.endpointOf(names)}`);
      const existing = error as { ServiceId?: string; ServiceArn?: string };
      if (existing.ServiceId && existing.ServiceArn) return { id: existing.ServiceId, arn: existing.ServiceArn };
    }
    const found = await this.find(names);
    if (found?.Id && found.Arn) return { id: found.Id, arn: found.Arn };
    throw new TransientError(`Cloud Map service ${this.endpointOf(names)} exists but is not listed yet`);
  }

  /**
   * Deletes the service if present; says whether it was. While ECS still deregisters the last
   * task's instance, Cloud Map answers ResourceInUse: a TransientError, retried by the state machine.
   */
  async remove(names: TenantComputeNames): Promise<boolean> {
    const found = await this.find(names);
    if (!found?.Id) return false;
    const id = found.Id;
    try {
      await this.options.serviceDiscovery.send(new DeleteServiceCommand({ Id: id }));
      return true;
    } catch (error) {
      if (isAwsError(error, 'ServiceNotFound')) return false;
      if (isAwsError(error, 'ResourceInUse')) {
        throw new TransientError(`Cloud Map service ${this.endpointOf(names)} still has instances registered; ECS deregisters them as the tasks stop`);
      }
      throw toDomainError(error, `deleting Cloud Map service ${this.endpointOf(names)}`);
    }
  }

  /** The tenant's service in the namespace, by name. */
  async find(names: TenantComputeNames): Promise<ServiceSummary | undefined> {
    const { serviceDiscovery, namespace } = this.options;
    let NextToken: string | undefined;
    do {
      const page = await callAws(`listing the Cloud Map services of namespace ${namespace.name}`, () =>
        serviceDiscovery.send(
          new ListServicesCommand({ Filters: [{ Name: 'NAMESPACE_ID', Values: [namespace.id], Condition: 'EQ' }], ...(NextToken ? { NextToken } : {}) }),
        ),
      );
      const ours = page.Services?.find((service) => service.Name === names.discoveryService);
      if (ours) return ours;
      NextToken = page.NextToken;
    } while (NextToken);
    return undefined;
  }
}
