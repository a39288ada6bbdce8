import { PrivateDnsNamespace } from 'aws-cdk-lib/aws-servicediscovery';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { CellNames } from './cell-names.js';

export interface CellDiscoveryProps {
  readonly names: CellNames;
  readonly vpc: IVpc;
}

/**
 * The cell's Cloud Map private DNS namespace, `<cell>.<env>.hostplane.internal`: each tenant
 * service registers one SRV record in it, and the edge (Caddy) resolves `<tenant>.<namespace>`
 * through the VPC resolver to find the tenant's tasks.
 */
export class CellDiscovery extends Construct {
  public readonly namespace: PrivateDnsNamespace;

  constructor(scope: Construct, id: string, props: CellDiscoveryProps) {
    super(scope, id);
    this.namespace = new PrivateDnsNamespace(this, 'Namespace', {
      name: props.names.namespace,
      vpc: props.vpc,
      description: `${props.names.prefix}: tenant services (SRV records)`,
    });
  }
}
