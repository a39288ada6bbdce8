import { describe, expect, it } from '@jest/globals';
import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CellStack } from '../../lib/cell-stack.js';

/** Synthesis fingerprints the image contexts and validates the template. */
const SYNTH_TIMEOUT_MS = 180_000;

describe('CellStack under cdk-nag AwsSolutions', () => {
  it(
    'has no unacknowledged finding, error or warning',
    () => {
      const app = new App();
      const stack = new CellStack(app, 'CellNag', { environment: 'test', cell: 'c1', env: { region: 'eu-west-1' } });
      // Synthesize first so that what constructs add late (lazy rules, aspects) is in the tree the rules read.
      app.synth();

      // v3: the pack is an IPolicyValidationPlugin; validateScope runs it on a tree directly.
      const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
      const findings = report.violations.map(
        (violation) => `${violation.severity} ${violation.ruleName}: ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`,
      );

      expect(findings).toEqual([]);
      expect(report.success).toBe(true);
    },
    SYNTH_TIMEOUT_MS,
  );
});
