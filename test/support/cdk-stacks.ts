import { App } from 'aws-cdk-lib';
import { buildHostplane, type HostplaneStacks } from '../../lib/hostplane-app.js';
import { parseHostplaneConfig } from '../../lib/hostplane-config.js';

/** A sample environment's config, as `cdk.json` would give it; `overrides` replace top-level keys. */
export function sampleConfig(overrides: Record<string, unknown> = {}) {
  return parseHostplaneConfig({
    environment: 'test',
    domain: 'apps.example.com',
    hostedZoneId: 'Z0EXAMPLE0000000000',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000',
    cells: [{ name: 'c1' }],
    ...overrides,
  });
}

/**
 * Every stack of a sample environment, in a fixed account and region. Lambda bundling is skipped
 * (`aws:cdk:bundling-stacks: []`): these tests read templates; `test/cdk/cdk-synth.test.ts` runs the
 * real `cdk synth`, which bundles every function.
 */
export function buildSampleStacks(overrides: Record<string, unknown> = {}): HostplaneStacks {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return buildHostplane(app, sampleConfig(overrides), { account: '123456789012', region: 'eu-west-1' });
}
