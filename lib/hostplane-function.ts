import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing, type FileSystem } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { GrantedPort } from '../cloud/cloud-ports.js';
import { nodeModulesClosure } from './node-modules-closure.js';

/** The repository root: entry files, package-lock.json and tsconfig.json are found from here, whatever the working directory. */
export const REPOSITORY_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * An ESM bundle has no `require`; a CommonJS dependency bundled into it still calls it (esbuild's
 * `__require` shim looks for one), so the bundle defines it first.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __hostplaneCreateRequire } from 'node:module'; const require = __hostplaneCreateRequire(import.meta.url);";

export interface HostplaneFunctionProps {
  /** The handler's entry file, relative to the repository root (a value of `FUNCTIONS`). It exports `handler`. */
  readonly entry: string;
  /**
   * How long one invocation may run.
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Memory, in MiB (CPU grows with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * The cloud ports, beyond the registry, the bundle installs (`lib/function-access.ts`).
   * @default - the registry only
   */
  readonly ports?: readonly GrantedPort[];
  /**
   * Variables added to the function's environment, next to `NODE_OPTIONS=--enable-source-maps`.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * @default - the entry path
   */
  readonly description?: string;
  /**
   * The VPC to run in (for the cell's EFS, cache and a `pg` connection), with its subnets and groups.
   * @default - not in a VPC
   */
  readonly vpc?: IVpc;
  readonly vpcSubnets?: SubnetSelection;
  readonly securityGroups?: ISecurityGroup[];
  /**
   * An EFS access point mounted into the function (needs `vpc`).
   * @default - none
   */
  readonly filesystem?: FileSystem;
  /**
   * Folders of the repository copied beside the bundle (`{ from: 'runtime/edge/cloudfront', to: 'cloudfront' }`
   * lands at `/var/task/cloudfront`), for files a handler reads at run time.
   * @default - none
   */
  readonly copyFolders?: readonly { readonly from: string; readonly to: string }[];
  /**
   * Packages the handler imports at run time from `/var/task/node_modules` instead of from its bundle
   * (they are left out of it), shipped as real files with what they depend on, at the versions
   * package-lock.json pins: the folders are copied from the repository's `node_modules` at synth
   * (no install, no network). Portable packages only (pure JavaScript or WebAssembly): the function
   * runs on arm64 whatever CPU synthesized it, so a package built for some os/cpu is refused.
   * @default - none: everything is in `index.mjs`
   */
  readonly shippedPackages?: readonly string[];
}

/**
 * The shell commands that copy, after esbuild has run, the folders of `copyFolders` and the package
 * folders of `shippedPackages` into the asset (`outputDir`), or undefined when there is nothing to copy.
 */
function afterBundlingCopies(props: HostplaneFunctionProps): ICommandHooks | undefined {
  const copies = [
    ...(props.copyFolders ?? []),
    ...(props.shippedPackages?.length ? nodeModulesClosure(join(REPOSITORY_ROOT, 'package-lock.json'), props.shippedPackages) : []).map((folder) => ({ from: folder, to: folder })),
  ];
  if (copies.length === 0) return undefined;
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir: string, outputDir: string) => copies.map(({ from, to }) => `mkdir -p "${outputDir}/${to}" && cp -R "${inputDir}/${from}/." "${outputDir}/${to}/"`),
  };
}

/** The module of each port's builder in `cloud/ports/`, and the builder it exports. */
const PORT_BUILDERS: Readonly<Record<GrantedPort, readonly [file: string, builder: string]>> = {
  secrets: ['secrets', 'secretsPort'],
  cacheUsers: ['cache-users', 'cacheUsersPort'],
  compute: ['compute', 'computePort'],
  appFiles: ['app-files', 'appFilesPort'],
  edge: ['edge', 'edgePort'],
  workflows: ['workflows', 'workflowsPort'],
  events: ['events', 'eventsPort'],
  notices: ['notices', 'noticesPort'],
  backups: ['backups', 'backupsPort'],
};

/** Where the generated installers are kept (a cache: rewritten, byte for byte the same, at each synth). */
const INSTALLERS_DIR = join(REPOSITORY_ROOT, 'node_modules', '.cache', 'hostplane-port-installers');

/**
 * The file esbuild injects into a bundle (`inject`: evaluated before the handler's module) to install
 * the cloud ports the function was granted: it imports only those ports' builders, so a bundle holds
 * only the adapters and SDK clients its function uses. See `cloud/cloud-ports.ts`.
 */
export function portInstaller(ports: readonly GrantedPort[]): string {
  const granted = [...new Set(ports)].sort();
  const file = join(INSTALLERS_DIR, `${granted.join('-') || 'registry-only'}.ts`);
  const moduleUrl = (path: string) => JSON.stringify(join(REPOSITORY_ROOT, path));
  const lines = [
    '// Generated by lib/hostplane-function.ts: the cloud ports this function was granted.',
    `import { installCloudPorts } from ${moduleUrl('cloud/cloud-ports.ts')};`,
    ...granted.map((port) => `import { ${PORT_BUILDERS[port][1]} } from ${moduleUrl(`cloud/ports/${PORT_BUILDERS[port][0]}.ts`)};`),
    `installCloudPorts({ ${granted.map((port) => `${port}: ${PORT_BUILDERS[port][1]}`).join(', ')} });`,
    '',
  ];
  const content = lines.join('\n');
  if (!existsSync(file) || readFileSync(file, 'utf8') !== content) {
    mkdirSync(INSTALLERS_DIR, { recursive: true });
    writeFileSync(file, content);
  }
  return file;
}

/**
 * A Lambda of the control plane with our defaults: Node.js 22 on arm64, bundled locally by the
 * installed esbuild into one ES module with source maps (the cloud adapters injected as its ports,
 * the AWS SDK clients bundled), X-Ray active tracing, and a log group kept for one month.
 *
 * Bundling never uses Docker, so `cdk synth` works offline on any machine that ran `npm ci`.
 * The log group and the execution role are created next to the function (a construct cannot own
 * children before its own constructor has run), with the ids `<id>Logs` and `<id>Role`. The role may
 * write to that log group only, instead of AWSLambdaBasicExecutionRole's every log group.
 */
export class HostplaneFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: HostplaneFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_MONTH,
      // Function logs are scratch: what a tenant operation did is recorded in the registry.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${props.entry}`,
      // Lambda creates and removes the function's network interfaces with this role.
      managedPolicies: props.vpc ? [ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')] : [],
    });
    logGroup.grantWrite(role);
    if (props.vpc) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'The network-interface permissions Lambda needs to run a function in a VPC, as AWS maintains them; the ec2 calls take no resource ARN.',
      });
    }
    super(scope, id, {
      entry: resolve(REPOSITORY_ROOT, props.entry),
      handler: 'handler',
      description: props.description ?? props.entry,
      projectRoot: REPOSITORY_ROOT,
      depsLockFilePath: join(REPOSITORY_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(60),
      role,
      logGroup,
      // The state machines and the API trace too: one trace follows a request into the function.
      tracing: Tracing.ACTIVE,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.vpc ? props.securityGroups : undefined,
      filesystem: props.filesystem,
      bundling: {
        inject: [portInstaller(props.ports ?? [])],
        // The SDK v3 clients are bundled, not taken from the runtime: the function runs the versions
        // package-lock.json pins and the tests exercised (CloudFront SaaS Manager needs a recent one).
        // `pg-native` is pg's optional native binding, never used; shipped packages load from node_modules.
        externalModules: ['pg-native', ...(props.shippedPackages ?? [])],
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        sourceMap: true,
        // Half the bytes to load at a cold start; the source maps keep stack traces readable, and names are kept for errors and logs.
        minify: true,
        keepNames: true,
        commandHooks: afterBundlingCopies(props),
        // Stack traces need the mappings, not a second copy of every source file.
        sourcesContent: false,
      },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords take no resource ARN.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Node.js 22 by choice: the runtime the bundles, the tests and the job image target; a runtime upgrade is its own change.',
    });
  }
}
