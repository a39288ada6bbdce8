import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { REPOSITORY_ROOT } from '../hostplane-function.js';

/** The port the reloader holds for the tenant's app inside each tenant task (the image's `PORT`). */
export const TENANT_APP_PORT = 8080;

/** Where a tenant task mounts its EFS access point (the image's `HOSTPLANE_APP_DIR`). */
export const TENANT_APP_DIR = '/srv/hostplane/app';

/**
 * What the image build may not see, besides `.dockerignore` (which CDK also reads): synthesis
 * fingerprints and copies every file of the context, so the big folders must stay out.
 */
export const CONTEXT_EXCLUDES = ['node_modules', '**/node_modules', 'cdk.out', '**/cdk.out', '.git', '.hostplane', 'coverage', 'dist', 'test', 'bench', 'docs'];

/**
 * The tenant container image: the reloader (runtime/reloader) bundled by esbuild on Node.js 22,
 * arm64 like the fleet. Built from the repository root by `runtime/reloader/Dockerfile` when the
 * stack is deployed; synthesis needs no Docker.
 */
export class TenantImage extends Construct {
  public readonly asset: DockerImageAsset;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.asset = new DockerImageAsset(this, 'Asset', {
      directory: REPOSITORY_ROOT,
      file: 'runtime/reloader/Dockerfile',
      platform: Platform.LINUX_ARM64,
      exclude: CONTEXT_EXCLUDES,
    });
  }
}
