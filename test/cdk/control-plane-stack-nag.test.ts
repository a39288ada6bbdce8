import { describe, expect, it } from '@jest/globals';
import { Stage } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildSampleStacks } from '../support/cdk-stacks.js';

/** Synthesis of both stacks (the control plane reads the cell's resources); Lambda bundling is skipped. */
const SYNTH_TIMEOUT_MS = 180_000;

describe('ControlPlaneStack under cdk-nag AwsSolutions', () => {
  it(
    'has no unacknowledged finding, error or warning',
    () => {
      const { controlPlane } = buildSampleStacks();
      // Synthesize first so that what constructs add late (lazy rules, aspects) is in the tree the rules read.
      Stage.of(controlPlane)?.synth();

      // v3: the pack is an IPolicyValidationPlugin; validateScope runs it on a tree directly.
      const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(controlPlane);
      const findings = report.violations.map(
        (violation) => `${violation.severity} ${violation.ruleName}: ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`,
      );

      expect(findings).toEqual([]);
      expect(report.success).toBe(true);
    },
    SYNTH_TIMEOUT_MS,
  );
});
