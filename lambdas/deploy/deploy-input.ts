import type { TenantResourceNames } from '../domain/naming.js';
import type { CaughtError } from '../provision/workflow-input.js';
import type { DeploymentKind } from '../registry/deployment-registry.js';

/** What starts a deploy execution: the deployment row holds the rest (the definition can be large). */
export interface DeployExecutionInput {
  readonly operationId: string;
  readonly deploymentId: string;
}

/** What LoadDefinition finds, and every later step reads. */
export interface LoadedDeployment {
  readonly deploymentId: string;
  readonly tenantId: string;
  readonly kind: DeploymentKind;
  readonly app: string;
  readonly allowDestructive: boolean;
  readonly names: TenantResourceNames;
  /** The cache the tenant lives on (its plan's), where Publish sends the deploy notice. Absent (loaded before cells had several): cache 0. */
  readonly cache?: number;
}

export interface DeployStepInput {
  readonly operationId: string;
  readonly deployment: LoadedDeployment;
}

/** GenerateCode's answer: where the generated sources were staged. */
export interface GeneratedSources {
  readonly sourceId: string;
  readonly files: number;
  readonly bytes: number;
}

/** Compile's answer: the release staged in the app files (only its id travels: a release is larger than a state's payload). */
export interface CompiledRelease {
  readonly releaseId: string;
  readonly bundleBytes: number;
  readonly totalBytes: number;
  readonly buildMs: number;
}

/** Publish's answer. */
export interface PublishedRelease {
  readonly releaseId: string;
  readonly previousReleaseId: string | null;
  /** The release was already current: nothing flipped, nothing to roll back. */
  readonly unchanged: boolean;
  /** When `current` was flipped (ISO 8601): a health report older than this is about an earlier flip. */
  readonly activatedAt: string;
}

/** PlanMigrations' answer: what Migrate will apply, without the SQL (Migrate plans again and checks it is the same). */
export interface PlannedMigration {
  /** Fingerprint of the definition the schema is at (null before the first deploy). */
  readonly from: string | null;
  readonly to: string;
  readonly steps: number;
  readonly destructive: boolean;
  /** For a person, at most 50 (then a count). */
  readonly summaries: readonly string[];
}

export interface MigrateInput extends DeployStepInput {
  readonly migrations: PlannedMigration;
}

export interface PublishInput extends DeployStepInput {
  readonly compiled: CompiledRelease;
}

export interface AwaitHealthyInput extends DeployStepInput {
  readonly published: PublishedRelease;
}

/** The state as the failure path sees it: any part may be missing. */
export interface DeployFailureInput {
  readonly operationId: string;
  readonly deploymentId: string;
  readonly deployment?: LoadedDeployment;
  readonly error?: CaughtError;
  readonly rollback?: { readonly rolledBackTo?: string | null; readonly skipped?: string };
  readonly rollbackError?: CaughtError;
}
