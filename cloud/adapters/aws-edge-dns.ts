import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  type Change,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { callAws, isAwsError, toDomainError } from './aws-errors.js';

/**
 * The hosted zone id Route 53 alias records use for every CloudFront target (a fixed value; see
 * "AliasTarget" in the Route 53 API reference).
 */
export const CLOUDFRONT_HOSTED_ZONE_ID = 'Z2FDTNDATAQYW2';

export interface EdgeDnsRecordsOptions {
  readonly route53: Route53Client;
  readonly hostedZoneId: string;
}

/** A tenant's DNS name as alias A and AAAA records to its CloudFront endpoint. */
export class EdgeDnsRecords {
  private readonly route53: Route53Client;
  private readonly hostedZoneId: string;

  constructor(options: EdgeDnsRecordsOptions) {
    this.route53 = options.route53;
    this.hostedZoneId = options.hostedZoneId;
  }

  /** Points `name` at `cloudFrontDomain` (A and AAAA), creating or replacing the records. */
  async upsert(name: string, cloudFrontDomain: string): Promise<void> {
    const changes: Change[] = (['A', 'AAAA'] as const).map((type) => ({
      Action: 'UPSERT',
      ResourceRecordSet: {
        Name: name,
        Type: type,
        AliasTarget: { HostedZoneId: CLOUDFRONT_HOSTED_ZONE_ID, DNSName: cloudFrontDomain, EvaluateTargetHealth: false },
      },
    }));
    await callAws(`pointing ${name} at ${cloudFrontDomain}`, () =>
      this.route53.send(
        new ChangeResourceRecordSetsCommand({ HostedZoneId: this.hostedZoneId, ChangeBatch: { Comment: `hostplane: ${name}`, Changes: changes } }),
      ),
    );
  }

  /**
   * Deletes the alias records of `name` that exist. A DELETE must repeat the record exactly, so
   * the current ones are read first; says whether there were any.
   */
  async remove(name: string): Promise<boolean> {
    const fqdn = name.endsWith('.') ? name : `${name}.`;
    const page = await callAws(`looking up the DNS records of ${name}`, () =>
      this.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: this.hostedZoneId, StartRecordName: fqdn, StartRecordType: 'A', MaxItems: 2 })),
    );
    const records = (page.ResourceRecordSets ?? []).filter(
      (record): record is ResourceRecordSet => record.Name?.toLowerCase() === fqdn.toLowerCase() && (record.Type === 'A' || record.Type === 'AAAA'),
    );
    if (records.length === 0) return false;
    try {
      await this.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: this.hostedZoneId,
          ChangeBatch: { Comment: `hostplane: ${name}`, Changes: records.map((record) => ({ Action: 'DELETE', ResourceRecordSet: record })) },
        }),
      );
    } catch (error) {
      // Deleted by another run between the read and the change: what was asked is done.
      if (isAwsError(error, 'InvalidChangeBatch') && /not found/i.test((error as Error).message)) return true;
      throw toDomainError(error, `deleting the DNS records of ${name}`);
    }
    return true;
  }
}
