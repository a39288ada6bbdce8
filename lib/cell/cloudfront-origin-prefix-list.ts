import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeCfnLint, DEPENDS_ON_ITS_ROLE_REASON } from '../cfn-lint-acknowledgements.js';

/** The AWS-managed prefix list of the addresses CloudFront uses to reach origins. */
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';

/**
 * The id of the CloudFront origin-facing prefix list in the stack's region, found at deploy time.
 * Its id differs per region and CloudFormation has no way to name it, so a custom resource asks EC2
 * (`DescribeManagedPrefixLists` filtered on `prefix-list-name`); `cdk synth` makes no lookup and
 * needs no context. Give the id as a prop instead to skip the custom resource.
 */
export class CloudFrontOriginPrefixList extends Construct {
  public readonly prefixListId: string;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const call = {
      service: 'EC2',
      action: 'describeManagedPrefixLists',
      parameters: { Filters: [{ Name: 'prefix-list-name', Values: [CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST] }] },
      physicalResourceId: PhysicalResourceId.of(CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST),
      outputPaths: ['PrefixLists.0.PrefixListId'],
    };
    const lookup = new AwsCustomResource(this, 'Lookup', {
      onCreate: call,
      onUpdate: call,
      // DescribeManagedPrefixLists supports no resource-level permissions: `*` is the only resource.
      policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
      logGroup: new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_WEEK, removalPolicy: RemovalPolicy.DESTROY }),
    });
    Validations.of(lookup).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ec2:DescribeManagedPrefixLists has no resource-level permissions; the read-only call needs Resource *.',
    });
    // The function behind every AwsCustomResource of the stack, a singleton at the stack's root.
    const provider = Stack.of(this).node.tryFindChild(`AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`);
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "CDK's AwsCustomResource provider writes its logs with the basic execution role; it makes one read-only EC2 call.",
      });
      acknowledgeCfnLint(provider, 'W3005', DEPENDS_ON_ITS_ROLE_REASON);
    }
    this.prefixListId = lookup.getResponseField('PrefixLists.0.PrefixListId');
  }
}
