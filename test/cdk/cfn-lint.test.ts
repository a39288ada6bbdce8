import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Stage } from 'aws-cdk-lib';
import { CFN_LINT_METADATA, CFN_LINT_REASONS_METADATA } from '../../lib/cfn-lint-acknowledgements.js';
import { REPOSITORY_ROOT } from '../../lib/hostplane-function.js';
import { buildSampleStacks } from '../support/cdk-stacks.js';

/** Both stacks synthesized once, Lambda bundling skipped (templates are what cfn-lint reads). */
const SYNTH_TIMEOUT_MS = 180_000;
/** One cfn-lint run over both templates takes about 15 s on two busy cores. */
const LINT_TIMEOUT_MS = 150_000;

const CFN_LINT = join(REPOSITORY_ROOT, '.venv', 'bin', 'cfn-lint');
const INSTALL_HINT = 'run .ci/run, or: python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt';

interface CfnLintFinding {
  readonly Filename: string;
  readonly Level: string;
  readonly Message: string;
  readonly Location: { readonly Path: readonly (string | number)[] };
  readonly Rule: { readonly Id: string };
}

interface TemplateResource {
  readonly Type: string;
  readonly Metadata?: Readonly<Record<string, unknown>>;
}

interface Template {
  readonly Metadata?: Readonly<Record<string, unknown>>;
  readonly Resources: Readonly<Record<string, TemplateResource>>;
}

/** The version `requirements-dev.txt` pins: the acknowledgements' reasons are about that version's rules. */
function pinnedVersion(): string {
  const pin = /^cfn-lint==(\S+)$/m.exec(readFileSync(join(REPOSITORY_ROOT, 'requirements-dev.txt'), 'utf8'));
  if (!pin) throw new Error('requirements-dev.txt pins no cfn-lint version');
  return pin[1]!;
}

/** cfn-lint's findings (JSON) on `templates`, checked against the rules of `region`. */
function cfnLint(templates: readonly string[], region: string): CfnLintFinding[] {
  const result = spawnSync(CFN_LINT, ['--regions', region, '--format', 'json', '--', ...templates], {
    encoding: 'utf8',
    timeout: LINT_TIMEOUT_MS - 10_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`cfn-lint did not run: ${result.error.message}`);
  try {
    return JSON.parse(result.stdout) as CfnLintFinding[];
  } catch {
    throw new Error(`cfn-lint exited ${result.status} without a JSON report:\n${result.stderr.slice(0, 2000)}`);
  }
}

/** One line a person can act on: template, rule, where, what. */
function readable(finding: CfnLintFinding): string {
  const message = finding.Message.length > 200 ? `${finding.Message.slice(0, 200)}…` : finding.Message;
  return `${basename(finding.Filename)} ${finding.Rule.Id} ${finding.Location.Path.join('/')}: ${message}`;
}

/** `Resources/<logical id>/…` → `<logical id> <rule>`. */
function resourceAndRule(finding: CfnLintFinding): string {
  return `${basename(finding.Filename)} ${String(finding.Location.Path[1])} ${finding.Rule.Id}`;
}

function ignoredChecks(resource: TemplateResource): readonly string[] {
  const config = resource.Metadata?.[CFN_LINT_METADATA] as { config?: { ignore_checks?: string[] } } | undefined;
  return config?.config?.ignore_checks ?? [];
}

describe('cfn-lint on every synthesized template', () => {
  let assemblyDir: string | undefined;
  let templates: string[];
  let region: string;

  beforeAll(() => {
    if (!existsSync(CFN_LINT)) throw new Error(`cfn-lint is not installed at ${CFN_LINT}: ${INSTALL_HINT}`);
    const version = spawnSync(CFN_LINT, ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (version !== `cfn-lint ${pinnedVersion()}`) throw new Error(`${CFN_LINT} is "${version}", not the pinned cfn-lint ${pinnedVersion()}: ${INSTALL_HINT}`);

    const { controlPlane } = buildSampleStacks();
    const assembly = Stage.of(controlPlane)!.synth();
    assemblyDir = assembly.directory;
    templates = assembly.stacks.map((stack) => stack.templateFullPath).sort();
    region = controlPlane.region;
  }, SYNTH_TIMEOUT_MS);

  afterAll(() => {
    if (assemblyDir) rmSync(assemblyDir, { recursive: true, force: true });
  });

  const template = (file: string): Template => JSON.parse(readFileSync(file, 'utf8')) as Template;

  it('lints every stack of the app: the cell and the control plane', () => {
    expect(templates.map((file) => basename(file))).toEqual(['Hostplane-test-Cell-c1.template.json', 'Hostplane-test-ControlPlane.template.json']);
  });

  it(
    'finds no error and no warning that is not acknowledged beside its resource',
    () => {
      const findings = cfnLint(templates, region).filter((finding) => finding.Level !== 'Informational');

      expect(findings.map(readable)).toEqual([]);
    },
    LINT_TIMEOUT_MS,
  );

  it('gives every acknowledgement a reason beside it, and ignores no check for a whole template', () => {
    const unexplained: string[] = [];
    for (const file of templates) {
      const { Metadata, Resources } = template(file);
      if (Metadata?.[CFN_LINT_METADATA] !== undefined) unexplained.push(`${basename(file)}: template-wide cfn-lint configuration`);
      for (const [id, resource] of Object.entries(Resources)) {
        const reasons = (resource.Metadata?.[CFN_LINT_REASONS_METADATA] ?? {}) as Record<string, unknown>;
        for (const check of ignoredChecks(resource)) {
          if (typeof reasons[check] !== 'string' || (reasons[check] as string).trim() === '') unexplained.push(`${basename(file)} ${id} ${check}`);
        }
      }
    }

    expect(unexplained).toEqual([]);
  });

  it(
    'acknowledges only findings cfn-lint makes: without the acknowledgements, each one is reported where it stands',
    () => {
      const bareDir = join(assemblyDir!, 'unacknowledged');
      mkdirSync(bareDir, { recursive: true });
      const acknowledged: string[] = [];
      const bare = templates.map((file) => {
        const { Resources, ...rest } = template(file);
        const stripped = Object.fromEntries(
          Object.entries(Resources).map(([id, resource]) => {
            for (const check of ignoredChecks(resource)) acknowledged.push(`${basename(file)} ${id} ${check}`);
            const metadata: Record<string, unknown> = { ...resource.Metadata };
            delete metadata[CFN_LINT_METADATA];
            return [id, { ...resource, Metadata: metadata }];
          }),
        );
        const target = join(bareDir, basename(file));
        writeFileSync(target, JSON.stringify({ ...rest, Resources: stripped }));
        return target;
      });

      const reported = new Set(cfnLint(bare, region).map(resourceAndRule));

      expect(acknowledged.length).toBeGreaterThan(0);
      expect(acknowledged.filter((entry) => !reported.has(entry))).toEqual([]);
    },
    LINT_TIMEOUT_MS,
  );
});
