import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { App } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { InstanceClass, InstanceSize, InstanceType } from 'aws-cdk-lib/aws-ec2';
import { CellStack } from '../../lib/cell-stack.js';
import { CACHE_USER_ENGINE, CONTROL_PLANE_CACHE_ACCESS } from '../../lib/cell/cell-cache.js';
import { DYNAMIC_HOST_PORTS, ECS_RESERVED_MEMORY_MIB } from '../../lib/cell/cell-compute.js';
import { EDGE_HEALTH_PATH, EDGE_PORT } from '../../lib/cell/cell-ingress.js';
import { vpcResolverAddress } from '../../lib/cell/cell-network.js';
import { CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST } from '../../lib/cell/cloudfront-origin-prefix-list.js';

/** Synthesis fingerprints the image contexts and validates the template: done once per stack. */
const SYNTH_TIMEOUT_MS = 180_000;
const REGION = 'eu-west-1';

interface CfnResource {
  readonly Type: string;
  readonly Properties: Readonly<Record<string, unknown>>;
  readonly DeletionPolicy?: string;
}

/** `{ "Fn::GetAtt": [<id>, "GroupId"] }` or `{ Ref: <id> }` → the logical id. */
function idOf(value: unknown): string | undefined {
  const getAtt = (value as { 'Fn::GetAtt'?: unknown } | null)?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  const ref = (value as { Ref?: unknown } | null)?.Ref;
  return typeof ref === 'string' ? ref : undefined;
}

function synth(props: Partial<ConstructorParameters<typeof CellStack>[2]> = {}): { stack: CellStack; template: Template; app: App } {
  const app = new App();
  const stack = new CellStack(app, 'CellTest', { environment: 'test', cell: 'c1', env: { region: REGION }, ...props });
  return { stack, template: Template.fromStack(stack), app };
}

describe('CellStack', () => {
  let stack: CellStack;
  let template: Template;
  let app: App;
  let resources: Record<string, CfnResource>;

  beforeAll(() => {
    ({ stack, template, app } = synth());
    resources = template.toJSON().Resources as Record<string, CfnResource>;
  }, SYNTH_TIMEOUT_MS);

  const ofType = (type: string): [string, CfnResource][] => Object.entries(resources).filter(([, r]) => r.Type === type);
  const only = (type: string): [string, CfnResource] => {
    const found = ofType(type);
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  const idOfResource = (construct: { node: { defaultChild?: unknown } } | { securityGroupId: string }): string => {
    const id = 'securityGroupId' in construct ? idOf(stack.resolve(construct.securityGroupId)) : undefined;
    if (!id) throw new Error('no logical id');
    return id;
  };

  describe('database', () => {
    it('runs Aurora PostgreSQL Serverless v2 with the Data API, encryption, IAM auth, deletion protection and backups', () => {
      template.hasResourceProperties('AWS::RDS::DBCluster', {
        Engine: 'aurora-postgresql',
        EngineVersion: Match.stringLikeRegexp('^17\\.'),
        EnableHttpEndpoint: true,
        StorageEncrypted: true,
        EnableIAMDatabaseAuthentication: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 14,
        ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 },
        EnableCloudwatchLogsExports: ['postgresql'],
        Port: 5432,
      });
      expect(ofType('AWS::RDS::DBInstance').map(([, r]) => r.Properties['DBInstanceClass'])).toEqual(['db.serverless', 'db.serverless']);
    });

    it('refuses connections without TLS (rds.force_ssl in the cluster parameter group)', () => {
      const [groupId] = only('AWS::RDS::DBClusterParameterGroup');
      template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Family: Match.stringLikeRegexp('^aurora-postgresql17'), Parameters: { 'rds.force_ssl': '1' } });
      template.hasResourceProperties('AWS::RDS::DBCluster', { DBClusterParameterGroupName: { Ref: groupId } });
    });

    it('keeps a final snapshot of the cluster and keeps its generated admin secret', () => {
      const [clusterId, cluster] = only('AWS::RDS::DBCluster');
      expect(cluster.DeletionPolicy).toBe('Snapshot');
      const adminSecret = new Capture();
      expect(cluster.Properties['MasterUsername']).toBeDefined();
      template.hasResource('AWS::SecretsManager::Secret', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({ Name: 'hostplane-cell/test/c1/database-admin', GenerateSecretString: Match.objectLike({ SecretStringTemplate: adminSecret }) }),
      });
      expect(JSON.parse(adminSecret.asString())).toEqual({ username: 'hostplane_admin' });
      expect(stack.resolve(stack.resources.database.clusterArn)).toEqual(expect.objectContaining({ 'Fn::Join': expect.arrayContaining([expect.arrayContaining([{ Ref: clusterId }])]) }));
    });
  });

  describe('cache', () => {
    it('is a Valkey replication group with transit and at-rest encryption, failover and the RBAC user group', () => {
      const [groupId] = only('AWS::ElastiCache::UserGroup');
      template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        Engine: 'valkey',
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AtRestEncryptionEnabled: true,
        AutomaticFailoverEnabled: true,
        MultiAZEnabled: true,
        Port: 6379,
        UserGroupIds: [{ Ref: groupId }],
      });
    });

    it('puts a disabled, password-less user named default in the user group, under an id of its own', () => {
      const [, group] = only('AWS::ElastiCache::UserGroup');
      const users = Object.fromEntries(ofType('AWS::ElastiCache::User').map(([, user]) => [user.Properties['UserId'] as string, user.Properties]));
      const members = group.Properties['UserIds'] as string[];
      const defaults = members.filter((id) => users[id]?.['UserName'] === 'default');

      expect(group.Properties['Engine']).toBe(CACHE_USER_ENGINE);
      expect(defaults).toEqual(['hp-test-c1-default-off']);
      expect(users['hp-test-c1-default-off']).toEqual(
        expect.objectContaining({ AccessString: 'off -@all', NoPasswordRequired: true, Engine: CACHE_USER_ENGINE }),
      );
      expect(users['hp-test-c1-default-off']).not.toHaveProperty('Passwords');
    });

    it('gives the control plane a user that may only PUBLISH on t:* channels, its password from a generated secret', () => {
      const [secretId] = ofType('AWS::SecretsManager::Secret').find(([, s]) => s.Properties['Name'] === 'hostplane-cell/test/c1/cache-control-plane')!;
      const password = new Capture();
      template.hasResourceProperties('AWS::ElastiCache::User', {
        UserId: 'hp-test-c1-control-plane',
        UserName: 'hp-test-c1-control-plane',
        AccessString: CONTROL_PLANE_CACHE_ACCESS,
        Passwords: [password],
      });
      expect(CONTROL_PLANE_CACHE_ACCESS.split(' ')).toEqual(['on', 'resetchannels', '&t:*', '-@all', '+publish']);
      expect(JSON.stringify(password.asObject())).toContain(`{"Ref":"${secretId}"}`);
      expect(JSON.stringify(password.asObject())).toContain(':SecretString:password::}}');
    });
  });

  describe('app files', () => {
    it('is an encrypted EFS file system with a lifecycle policy and backups, retained on removal', () => {
      template.hasResource('AWS::EFS::FileSystem', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          Encrypted: true,
          BackupPolicy: { Status: 'ENABLED' },
          LifecyclePolicies: Match.arrayWith([{ TransitionToIA: 'AFTER_30_DAYS' }]),
        }),
      });
    });

    it('grants nothing in its file-system policy, so only identity policies through access points mount it, and refuses root', () => {
      const [, fileSystem] = only('AWS::EFS::FileSystem');
      const policy = fileSystem.Properties['FileSystemPolicy'] as { Statement: { Effect: string; Principal: unknown; Action: string | string[]; Condition?: unknown }[] };
      const anyone = { AWS: '*' };

      // No Allow at all: a broad one (CDK's default gave every principal ClientWrite and ClientRootAccess) would undo the access points.
      expect(policy.Statement.filter((statement) => statement.Effect !== 'Deny')).toEqual([]);
      expect(policy.Statement).toEqual([
        expect.objectContaining({
          Principal: anyone,
          Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite', 'elasticfilesystem:ClientRootAccess'],
          Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'false' } },
        }),
        expect.objectContaining({
          Principal: anyone,
          Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
          Condition: { Null: { 'elasticfilesystem:AccessPointArn': 'true' } },
        }),
        expect.objectContaining({ Principal: anyone, Action: 'elasticfilesystem:ClientRootAccess' }),
      ]);
      expect(JSON.stringify(policy.Statement[2])).not.toContain('Condition');
    });

    it('has an admin access point on / as uid and gid 1000', () => {
      const [fsId] = only('AWS::EFS::FileSystem');
      template.hasResourceProperties('AWS::EFS::AccessPoint', {
        FileSystemId: { Ref: fsId },
        RootDirectory: { Path: '/' },
        PosixUser: { Uid: '1000', Gid: '1000' },
      });
    });
  });

  describe('compute', () => {
    it('backs the cluster with a capacity provider: managed scaling to 100% (binpack fills instances), termination protection, draining', () => {
      const [providerId] = only('AWS::ECS::CapacityProvider');
      const [asgId] = only('AWS::AutoScaling::AutoScalingGroup');
      template.hasResourceProperties('AWS::ECS::CapacityProvider', {
        AutoScalingGroupProvider: {
          AutoScalingGroupArn: { Ref: asgId },
          ManagedScaling: { Status: 'ENABLED', TargetCapacity: 100 },
          ManagedTerminationProtection: 'ENABLED',
          ManagedDraining: 'ENABLED',
        },
      });
      template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { NewInstancesProtectedFromScaleIn: true, MinSize: '2', MaxSize: '10' });
      template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
        CapacityProviders: [{ Ref: providerId }],
        DefaultCapacityProviderStrategy: [{ CapacityProvider: { Ref: providerId }, Weight: 1 }],
      });
      expect(stack.resolve(stack.resources.capacityProviderName)).toEqual({ Ref: providerId });
    });

    it('turns Container Insights on', () => {
      template.hasResourceProperties('AWS::ECS::Cluster', {
        ClusterName: 'hp-test-c1',
        ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
      });
    });

    it('launches arm64 ECS-optimized instances with IMDSv2 required, a hop limit of 1, encrypted EBS and the metadata service closed to awsvpc and bridge tasks', () => {
      const [, launchTemplate] = only('AWS::EC2::LaunchTemplate');
      const data = launchTemplate.Properties['LaunchTemplateData'] as Record<string, unknown>;
      const imageParameter = idOf(data['ImageId']);

      expect(data).toEqual(
        expect.objectContaining({
          InstanceType: 'm7g.large',
          MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 30, VolumeType: 'gp3' } }],
        }),
      );
      expect(template.toJSON().Parameters[imageParameter!].Default).toBe('/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id');
      const userData = JSON.stringify(data['UserData']);
      expect(userData).toContain('ECS_AWSVPC_BLOCK_IMDS=true');
      expect(userData).toContain('ECS_ENABLE_TASK_IAM_ROLE=true');
      expect(userData).toContain(`ECS_RESERVED_MEMORY=${ECS_RESERVED_MEMORY_MIB}`);
      expect(userData).toContain('iptables --insert FORWARD 1 --in-interface docker+ --destination 169.254.169.254/32 --jump DROP');
    });

    it('refuses an instance type that is not arm64', () => {
      expect(() => new CellStack(new App(), 'X86', {
        environment: 'test',
        cell: 'c1',
        env: { region: REGION },
        instanceType: InstanceType.of(InstanceClass.M7I, InstanceSize.LARGE),
      })).toThrow(/m7i.large is not arm64/);
    });

    it('lets the tenant execution role pull the tenant image, write tenant logs and read only this cell\'s tenant secrets', () => {
      const role = idOf(stack.resolve((stack.resources.tenantExecutionRole as { roleName: string }).roleName));
      const statements = new Capture();
      template.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: role }], PolicyDocument: { Statement: statements } });
      const text = JSON.stringify(statements.asArray());

      expect(text).toContain('ecr:BatchGetImage');
      expect(text).toContain('logs:PutLogEvents');
      expect(statements.asArray()).toContainEqual(
        expect.objectContaining({
          Action: 'secretsmanager:GetSecretValue',
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:secretsmanager:${REGION}:`, { Ref: 'AWS::AccountId' }, ':secret:hostplane/test/c1/*']] },
        }),
      );
      expect(text).not.toContain('hostplane-cell/');
    });

    it('keeps tenant logs a month under the cell\'s log group name', () => {
      template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hostplane/test/c1/tenants', RetentionInDays: 30 });
    });
  });

  describe('network and discovery', () => {
    it('has S3 and DynamoDB gateway endpoints, the interface endpoints the tasks and Lambdas use, and flow logs', () => {
      const services = ofType('AWS::EC2::VPCEndpoint').map(([, e]) => JSON.stringify(e.Properties['ServiceName']));
      for (const service of ['.s3', '.dynamodb', '.secretsmanager', '.ecr.api', '.ecr.dkr', '.logs', '.rds-data']) {
        expect(services.filter((name) => name.includes(`${service}"`))).toHaveLength(1);
      }
      template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
      expect(ofType('AWS::EC2::Subnet')).toHaveLength(4);
    });

    it('names the Cloud Map namespace after the cell and environment, and outputs it with the ALB name', () => {
      template.hasResourceProperties('AWS::ServiceDiscovery::PrivateDnsNamespace', { Name: 'c1.test.hostplane.internal' });
      const [albId] = only('AWS::ElasticLoadBalancingV2::LoadBalancer');
      template.hasOutput('NamespaceName', { Value: 'c1.test.hostplane.internal' });
      template.hasOutput('LoadBalancerDnsName', { Value: { 'Fn::GetAtt': [albId, 'DNSName'] } });
    });
  });

  describe('ingress', () => {
    it('runs Caddy with its port, the namespace, the VPC resolver and the origin secret from Secrets Manager', () => {
      const [originSecretId] = ofType('AWS::SecretsManager::Secret').find(([, s]) => s.Properties['Name'] === 'hostplane-cell/test/c1/origin-verify')!;
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        NetworkMode: 'awsvpc',
        ContainerDefinitions: [
          Match.objectLike({
            Name: 'caddy',
            PortMappings: [Match.objectLike({ ContainerPort: EDGE_PORT })],
            Environment: Match.arrayWith([
              { Name: 'EDGE_PORT', Value: String(EDGE_PORT) },
              { Name: 'SERVICE_NAMESPACE', Value: 'c1.test.hostplane.internal' },
              { Name: 'DNS_RESOLVER', Value: '10.0.0.2:53' },
            ]),
            Secrets: [{ Name: 'ORIGIN_SECRET', ValueFrom: { Ref: originSecretId } }],
          }),
        ],
      });
      expect(stack.resolve(stack.resources.originSecret.secretArn)).toEqual({ Ref: originSecretId });
    });

    it('places the edge service on the fleet\'s capacity provider, after the provider joins the cluster', () => {
      const [providerId] = only('AWS::ECS::CapacityProvider');
      const [associationId] = only('AWS::ECS::ClusterCapacityProviderAssociations');
      template.hasResource('AWS::ECS::Service', {
        Properties: Match.objectLike({ CapacityProviderStrategy: [{ CapacityProvider: { Ref: providerId }, Weight: 1 }], DesiredCount: 2 }),
        DependsOn: Match.arrayWith([associationId]),
      });
    });

    it('health-checks Caddy on its own path and sends it all traffic', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        Port: EDGE_PORT,
        TargetType: 'ip',
        HealthCheckPath: EDGE_HEALTH_PATH,
        Matcher: { HttpCode: '200' },
      });
      expect(ofType('AWS::ElasticLoadBalancingV2::ListenerRule')).toHaveLength(0);
    });

    it('drops invalid header fields and logs requests to a bucket that refuses plain HTTP', () => {
      const [bucketId] = only('AWS::S3::Bucket');
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
        Scheme: 'internet-facing',
        LoadBalancerAttributes: Match.arrayWith([
          { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
          { Key: 'access_logs.s3.enabled', Value: 'true' },
          { Key: 'access_logs.s3.bucket', Value: { Ref: bucketId } },
        ]),
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    });

    it('admits only the CloudFront origin-facing prefix list to the ALB, found at deploy time by name', () => {
      const albGroup = idOfResource(stack.resources.loadBalancer.connections.securityGroups[0]!);
      const ingress = ofType('AWS::EC2::SecurityGroupIngress').filter(([, rule]) => idOf(rule.Properties['GroupId']) === albGroup);
      const [lookupId, lookup] = only('Custom::AWS');

      expect(resources[albGroup]!.Properties['SecurityGroupIngress']).toBeUndefined();
      expect(ingress.map(([, rule]) => rule.Properties)).toEqual([
        expect.objectContaining({ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, SourcePrefixListId: { 'Fn::GetAtt': [lookupId, 'PrefixLists.0.PrefixListId'] } }),
      ]);
      expect(JSON.stringify(lookup.Properties['Create'])).toContain(CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST);
      expect(JSON.stringify(lookup.Properties['Create'])).toContain('describeManagedPrefixLists');
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    });
  });

  describe('security groups', () => {
    /** Every rule between groups and every rule to or from an address, named by what the groups are. */
    function rules(): { ingress: string[]; egress: string[] } {
      const r = stack.resources;
      const names = new Map<string, string>([
        [idOfResource(r.loadBalancer.connections.securityGroups[0]!), 'alb'],
        [idOfResource(r.controlPlaneSecurityGroup), 'control-plane'],
        [idOfResource(r.database.cluster.connections.securityGroups[0]!), 'aurora'],
        [idOfResource(r.fileSystem.connections.securityGroups[0]!), 'efs'],
      ]);
      const byDescription = (fragment: string): string => {
        const found = Object.entries(resources).find(([, res]) => res.Type === 'AWS::EC2::SecurityGroup' && String(res.Properties['GroupDescription']).includes(fragment));
        if (!found) throw new Error(`no group described as ${fragment}`);
        return found[0];
      };
      names.set(byDescription('hp-test-c1 cache'), 'cache');
      names.set(byDescription('edge (Caddy)'), 'edge');
      names.set(byDescription('ECS container instances'), 'instances');
      names.set(byDescription('Interface endpoints'), 'endpoints');
      const name = (value: unknown): string => names.get(idOf(value) ?? '') ?? `?${JSON.stringify(value)}`;
      const port = (p: Readonly<Record<string, unknown>>): string => {
        const from = p['FromPort'];
        const to = p['ToPort'];
        return `${p['IpProtocol']}/${JSON.stringify(from)}${to !== undefined && to !== from ? `-${JSON.stringify(to)}` : ''}`;
      };
      const source = (p: Readonly<Record<string, unknown>>): string =>
        p['SourceSecurityGroupId'] ? name(p['SourceSecurityGroupId']) : p['SourcePrefixListId'] ? 'cloudfront' : String(p['CidrIp']);
      const destination = (p: Readonly<Record<string, unknown>>): string => (p['DestinationSecurityGroupId'] ? name(p['DestinationSecurityGroupId']) : String(p['CidrIp']));
      const ingress: string[] = [];
      const egress: string[] = [];
      for (const [id, res] of Object.entries(resources)) {
        if (res.Type === 'AWS::EC2::SecurityGroupIngress') ingress.push(`${source(res.Properties)} -> ${name(res.Properties['GroupId'])} ${port(res.Properties)}`);
        if (res.Type === 'AWS::EC2::SecurityGroupEgress') egress.push(`${name(res.Properties['GroupId'])} -> ${destination(res.Properties)} ${port(res.Properties)}`);
        if (res.Type === 'AWS::EC2::SecurityGroup') {
          for (const rule of (res.Properties['SecurityGroupIngress'] ?? []) as Record<string, unknown>[]) ingress.push(`${source(rule)} -> ${names.get(id) ?? id} ${port(rule)}`);
          for (const rule of (res.Properties['SecurityGroupEgress'] ?? []) as Record<string, unknown>[]) {
            if (rule['CidrIp'] !== '255.255.255.255/32') egress.push(`${names.get(id) ?? id} -> ${destination(rule)} ${port(rule)}`);
          }
        }
      }
      return { ingress: ingress.sort(), egress: egress.sort() };
    }

    it('admits exactly ALB → Caddy, Caddy → the instances on the dynamic host ports, instances (tenant tasks) and control plane → Aurora, cache and EFS', () => {
      expect(rules().ingress).toEqual(
        [
          'cloudfront -> alb tcp/80',
          'alb -> edge tcp/8000',
          `edge -> instances tcp/${DYNAMIC_HOST_PORTS.from}-${DYNAMIC_HOST_PORTS.to}`,
          'instances -> aurora tcp/5432',
          'control-plane -> aurora tcp/5432',
          'instances -> cache tcp/6379',
          'control-plane -> cache tcp/6379',
          'instances -> efs tcp/2049',
          'control-plane -> efs tcp/2049',
          '10.0.0.0/16 -> endpoints tcp/443',
        ].sort(),
      );
    });

    it('lets out exactly those flows, plus HTTPS to AWS APIs from the instances and the control plane', () => {
      expect(rules().egress).toEqual(
        [
          'alb -> edge tcp/8000',
          `edge -> instances tcp/${DYNAMIC_HOST_PORTS.from}-${DYNAMIC_HOST_PORTS.to}`,
          'instances -> aurora tcp/5432',
          'control-plane -> aurora tcp/5432',
          'instances -> cache tcp/6379',
          'control-plane -> cache tcp/6379',
          'instances -> efs tcp/2049',
          'control-plane -> efs tcp/2049',
          'instances -> 0.0.0.0/0 tcp/443',
          'control-plane -> 0.0.0.0/0 tcp/443',
        ].sort(),
      );
    });
  });

  describe('tenant image', () => {
    it('builds runtime/reloader/Dockerfile for arm64 from a repository root staged without node_modules, .git or tests', () => {
      const assembly = app.synth();
      const manifest = JSON.parse(readFileSync(join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8')) as {
        dockerImages: Record<string, { source: { directory: string; dockerFile?: string; platform?: string } }>;
      };
      const hash = stack.resources.tenantImage.assetHash;
      const source = manifest.dockerImages[hash]?.source;

      expect(source).toEqual(expect.objectContaining({ dockerFile: 'runtime/reloader/Dockerfile', platform: 'linux/arm64' }));
      const staged = join(assembly.directory, source!.directory);
      expect(existsSync(join(staged, 'runtime', 'reloader', 'main.ts'))).toBe(true);
      expect(existsSync(join(staged, 'package-lock.json'))).toBe(true);
      for (const big of ['node_modules', '.git', 'test', 'cdk.out']) expect(existsSync(join(staged, big))).toBe(false);
    });
  });
});

describe('CellStack with a certificate and a known prefix list', () => {
  let template: Template;

  beforeAll(() => {
    ({ template } = synth({ certificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/abc', cloudFrontPrefixListId: 'pl-4fa04526' }));
  }, SYNTH_TIMEOUT_MS);

  it('listens with HTTPS on 443 with that certificate and a recommended TLS policy', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/abc' }],
      SslPolicy: Match.stringLikeRegexp('^ELBSecurityPolicy-TLS13'),
    });
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
  });

  it('admits the given prefix list on 443 and looks nothing up', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { SourcePrefixListId: 'pl-4fa04526', FromPort: 443, ToPort: 443 });
    template.resourceCountIs('Custom::AWS', 0);
    template.resourceCountIs('AWS::Lambda::Function', 0);
  });
});

describe('CellStack props', () => {
  it('refuses a cell name that breaks the naming rules', () => {
    expect(() => new CellStack(new App(), 'Bad', { environment: 'test', cell: 'Cell_1', env: { region: REGION } })).toThrow(/cell must be/);
  });

  it('refuses a region-agnostic stack, which could not deliver ALB access logs', () => {
    expect(() => new CellStack(new App(), 'Agnostic', { environment: 'test', cell: 'c1' })).toThrow(/needs env.region/);
  });
});

describe('vpcResolverAddress', () => {
  it('is the base of the VPC range plus two', () => {
    expect(vpcResolverAddress('10.0.0.0/16')).toBe('10.0.0.2');
    expect(vpcResolverAddress('172.31.16.0/20')).toBe('172.31.16.2');
    expect(vpcResolverAddress('10.1.2.200/24')).toBe('10.1.2.2');
  });

  it('refuses what is not a VPC range', () => {
    expect(() => vpcResolverAddress('10.0.0.0/8')).toThrow(/not an IPv4 CIDR/);
    expect(() => vpcResolverAddress('300.0.0.0/16')).toThrow(/not an IPv4 CIDR/);
    expect(() => vpcResolverAddress('fd00::/56')).toThrow(/not an IPv4 CIDR/);
  });
});
