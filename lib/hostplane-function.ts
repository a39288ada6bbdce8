import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

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
   * Variables added to the function's environment, next to `NODE_OPTIONS=--enable-source-maps`.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * @default - the entry path
   */
  readonly description?: string;
}

/**
 * A Lambda of the control plane with our defaults: Node.js 22 on arm64, bundled locally by the
 * installed esbuild into one ES module with source maps, and a log group kept for one month.
 *
 * Bundling never uses Docker, so `cdk synth` works offline on any machine that ran `npm ci`.
 * The log group is created next to the function (a construct cannot own children before its own
 * constructor has run), with the id `<id>Logs`.
 */
export class HostplaneFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: HostplaneFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_MONTH,
      // Function logs are scratch: what a tenant operation did is recorded in the registry.
      removalPolicy: RemovalPolicy.DESTROY,
    });
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
      logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        sourceMap: true,
        // Stack traces need the mappings, not a second copy of every source file.
        sourcesContent: false,
      },
    });
  }
}
