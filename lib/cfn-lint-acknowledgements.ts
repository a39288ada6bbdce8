import { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The resource metadata cfn-lint reads its per-resource configuration from. */
export const CFN_LINT_METADATA = 'cfn-lint';

/** Beside it, in the template too: why each check cfn-lint is told to ignore on this resource is acknowledged. */
export const CFN_LINT_REASONS_METADATA = 'hostplane:cfn-lint-acknowledgements';

interface CfnLintMetadata {
  readonly config?: { readonly ignore_checks?: readonly string[] };
}

/**
 * Acknowledges one cfn-lint finding on the resource of `scope` (the resource itself, or the
 * construct's default child), with its reason: cfn-lint skips `check` there
 * (`Metadata.cfn-lint.config.ignore_checks`), and the reason is written beside it in the template
 * (`Metadata.hostplane:cfn-lint-acknowledgements`; a check acknowledged twice keeps both reasons).
 * The cdk-nag twin is `Validations.of(x).acknowledge`.
 */
export function acknowledgeCfnLint(scope: IConstruct, check: string, reason: string): void {
  if (!/^[EWI]\d{4}$/.test(check)) throw new Error(`acknowledgeCfnLint: "${check}" is not a cfn-lint rule id (E…, W… or I… and four digits)`);
  if (reason.trim() === '') throw new Error(`acknowledgeCfnLint: ${check} on ${scope.node.path} needs a reason`);
  const resource = cfnResourceOf(scope);
  const config = resource.getMetadata(CFN_LINT_METADATA) as CfnLintMetadata | undefined;
  const checks = new Set(config?.config?.ignore_checks ?? []).add(check);
  resource.addMetadata(CFN_LINT_METADATA, { config: { ignore_checks: [...checks].sort() } });
  const earlier = (resource.getMetadata(CFN_LINT_REASONS_METADATA) ?? {}) as Readonly<Record<string, string>>;
  // The same check acknowledged twice on one resource (for two of its findings): both reasons are kept.
  const reasons = { ...earlier, [check]: earlier[check] === undefined ? reason : `${earlier[check]} ${reason}` };
  resource.addMetadata(CFN_LINT_REASONS_METADATA, reasons);
}

/**
 * W3005 ("dependency already enforced by a Ref or GetAtt") on what CDK's L2 constructs make: a
 * function or state machine depends on its whole role construct — the role, which it also names by
 * GetAtt, and the role's default policy, which it must wait for — and CDK writes both in DependsOn.
 */
export const DEPENDS_ON_ITS_ROLE_REASON =
  "CDK makes it depend on its role construct as a whole, so that the role's default policy exists before it runs; the role itself is also named by GetAtt, which cfn-lint flags as redundant. Harmless.";

function cfnResourceOf(scope: IConstruct): CfnResource {
  if (CfnResource.isCfnResource(scope)) return scope;
  const child = scope.node.defaultChild;
  if (child !== undefined && CfnResource.isCfnResource(child)) return child;
  throw new Error(`acknowledgeCfnLint: ${scope.node.path} is not a CloudFormation resource and has none as its default child`);
}
