import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { FUNCTIONS } from '../../lambdas/functions.js';
import { REPOSITORY_ROOT } from '../../lib/hostplane-function.js';

/** Bundles every Lambda with esbuild: the slowest test of the suite, and the one that proves `cdk deploy` has something to deploy. */
const SYNTH_TIMEOUT_MS = 300_000;

/** The environment of a machine with no AWS account: no credentials, no profile, no region. */
function offlineEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AWS_') && !key.startsWith('CDK_')) env[key] = value;
  return { ...env, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', CDK_DISABLE_VERSION_CHECK: '1' };
}

describe('npx cdk synth', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'hostplane-cdk-out-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it(
    'synthesizes the cell and control-plane stacks of cdk.json offline, every Lambda bundled',
    () => {
      const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir], {
        cwd: REPOSITORY_ROOT,
        env: offlineEnvironment(),
        encoding: 'utf8',
        timeout: SYNTH_TIMEOUT_MS - 10_000,
      });

      expect(result.stderr.split('\n').filter((line) => /error/i.test(line) && !/npm warn/i.test(line))).toEqual([]);
      expect(result.status).toBe(0);
      const templates = readdirSync(outdir).filter((file) => file.endsWith('.template.json')).sort();
      expect(templates).toEqual(['Hostplane-dev-Cell-c1.template.json', 'Hostplane-dev-ControlPlane.template.json']);
      const controlPlane = JSON.parse(readFileSync(join(outdir, 'Hostplane-dev-ControlPlane.template.json'), 'utf8')) as {
        Resources: Record<string, { Type: string; Properties: { Description?: string }; Metadata?: Record<string, string> }>;
      };
      const ours = new Set<string>(Object.values(FUNCTIONS));
      const bundles = Object.values(controlPlane.Resources)
        .filter((resource) => resource.Type === 'AWS::Lambda::Function' && ours.has(resource.Properties.Description ?? '') && resource.Metadata?.['aws:asset:path'])
        .map((resource) => join(outdir, resource.Metadata!['aws:asset:path']!, 'index.mjs'));
      expect(bundles).toHaveLength(ours.size);
      expect(bundles.filter((file) => !existsSync(file))).toEqual([]);
    },
    SYNTH_TIMEOUT_MS,
  );

  it('refuses a bad cdk.json context with every problem named, and no stack trace', () => {
    const bad = JSON.stringify({ environment: 'Dev', domain: 'not a domain', hostedZoneId: 'x', cells: [] });
    const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', join(outdir, 'bad'), '-c', `hostplane=${bad}`], {
      cwd: REPOSITORY_ROOT,
      env: offlineEnvironment(),
      encoding: 'utf8',
      timeout: 120_000,
    });

    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('the cdk.json context "hostplane" is not valid');
    expect(result.stderr).toContain('hostplane.environment:');
    expect(result.stderr).toContain('hostplane.domain:');
    expect(result.stderr).toContain('hostplane.hostedZoneId:');
    expect(result.stderr).toContain('hostplane.cells:');
    expect(result.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
  }, 130_000);
});
