import { z } from 'zod';
import { PermanentError } from '../domain/errors.js';
import type { TenantResourceNames } from '../domain/naming.js';
import type { AppFilesPort } from '../ports/app-files.js';
import type { EdgePort } from '../ports/edge.js';
import type { NoticesPort } from '../ports/notices.js';
import type { SqlPort } from '../ports/sql.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';
import type { AwaitHealthyInput, PublishedRelease, PublishInput } from './deploy-input.js';
import { publishReleaseFrontEnd, republishCurrentFrontEnd } from './release-front-end.js';
import { activateRelease, currentRelease, rollBackRelease } from './releases.js';

/**
 * `status.json` beside `current`, as the tenant's reloader writes it (runtime/reloader/status-file.ts):
 * what became of the release `current` last named. The contract between the runtime and AwaitHealthy.
 */
export const RELEASE_STATUS_FILE = 'status.json';
const releaseStatusSchema = z.object({
  releaseId: z.string(),
  state: z.enum(['healthy', 'failed']),
  reason: z.string().optional(),
  time: z.string(),
  pid: z.number().int().optional(),
});
export type ReleaseStatus = z.infer<typeof releaseStatusSchema>;

/** The channel the tenant's runtime listens on for "read current now" (within its ACL's `t:<tenant>:*`). */
export function deployNoticeChannel(channelPattern: string): string {
  return `${channelPattern.replace(/\*$/, '')}deploy`;
}

/**
 * Publish: the release's front end goes to the tenant's static-asset store first (so the edge serves
 * it no later than the runtime serves the release), then the staged release becomes current in one
 * atomic write; the previous one is recorded for rollback. Then a notice on the tenant's cache
 * channel wakes its runtime before its next poll (best effort: a failed notice is reported in the
 * answer, never fails the step).
 */
export async function publishRelease(
  input: PublishInput,
  sql: SqlPort,
  appFiles: AppFilesPort,
  edge: EdgePort,
  notices?: NoticesPort,
): Promise<PublishedRelease & { frontEnd: { written: number; removed: number }; notice?: string }> {
  const folder = input.deployment.names.appFilesFolder;
  const deployments = new DeploymentRegistry(sql);
  const { releaseId } = input.compiled;
  const current = (await currentRelease(appFiles, folder)) ?? null;
  // A retry after the flip finds this release current already: the previous one is the one recorded the first time.
  const recorded = await deployments.require(input.deployment.deploymentId);
  const previousReleaseId = current === releaseId && recorded.previousReleaseId !== null ? recorded.previousReleaseId : current;
  await deployments.recordRelease(input.deployment.deploymentId, { releaseId, previousReleaseId });
  // Written every time, an unchanged release too: a retry completes what a cut-off attempt began.
  const { written, removed } = await publishReleaseFrontEnd(appFiles, edge, input.deployment.names, releaseId);
  const activatedAt = new Date().toISOString();
  if (current !== releaseId) await activateRelease(appFiles, folder, releaseId);
  const published = { releaseId, previousReleaseId, unchanged: previousReleaseId === releaseId, activatedAt, frontEnd: { written, removed } };
  if (!notices || published.unchanged) return published;
  const channel = deployNoticeChannel(input.deployment.names.cacheChannelPattern);
  const notice = await notices.notify(channel, releaseId).then(
    (receivers) => `${channel}: ${receivers} runtime(s) notified`,
    (error: unknown) => `${channel}: not sent (${error instanceof Error ? error.message : String(error)}); the runtime's poll will find the release`,
  );
  return { ...published, notice };
}

export async function readReleaseStatus(appFiles: AppFilesPort, folder: string): Promise<ReleaseStatus | undefined> {
  const content = await appFiles.readFile(`${folder}/${RELEASE_STATUS_FILE}`);
  if (!content) return undefined;
  try {
    const parsed = releaseStatusSchema.safeParse(JSON.parse(content.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export interface HealthWait {
  /** How long the runtime has to report the release. */
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /**
   * Asked about once a second: false stops the wait (the deployment was closed meanwhile, as when
   * its execution was aborted), so a wait nobody reads does not run to its deadline.
   */
  readonly stillWanted?: () => Promise<boolean>;
}

/**
 * AwaitHealthy: waits for the tenant's runtime to report the new release healthy in `status.json`.
 * A report of failure, or none before the deadline, fails the step (and the machine rolls back).
 * Reports older than the flip are about an earlier attempt at the same release and are ignored.
 */
export async function awaitReleaseHealthy(
  input: AwaitHealthyInput,
  appFiles: AppFilesPort,
  { timeoutMs, intervalMs = 50, stillWanted }: HealthWait,
): Promise<{ releaseId: string; pid: number | null; waitedMs: number }> {
  const { releaseId, activatedAt, unchanged } = input.published;
  const folder = input.deployment.names.appFilesFolder;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last: ReleaseStatus | undefined;
  let lastAsked = started;
  for (;;) {
    last = await readReleaseStatus(appFiles, folder);
    const current = last?.releaseId === releaseId && (unchanged || Date.parse(last.time) >= Date.parse(activatedAt));
    if (current && last?.state === 'healthy') return { releaseId, pid: last.pid ?? null, waitedMs: Date.now() - started };
    if (current && last?.state === 'failed') {
      throw new PermanentError(`release ${releaseId} did not become healthy: ${last.reason ?? 'the runtime gave no reason'}`);
    }
    if (Date.now() >= deadline) break;
    if (stillWanted && Date.now() - lastAsked >= 1_000) {
      lastAsked = Date.now();
      if (!(await stillWanted())) throw new PermanentError(`stopped waiting for release ${releaseId}: the deployment has ended`);
    }
    // Unref'd: a wait whose execution was aborted must not hold its process open.
    await new Promise((resolve) => setTimeout(resolve, intervalMs).unref());
  }
  const seen = last ? `the runtime last reported ${last.releaseId} ${last.state} at ${last.time}` : 'the runtime has reported nothing';
  throw new PermanentError(`release ${releaseId} was not reported healthy within ${Math.round(timeoutMs / 1000)} s (${seen})`);
}

/**
 * RollBack with the edge: {@link rollBackDeployment}, then the front end of whatever release is
 * current afterwards is published again, so the edge serves the release the runtime serves (also
 * after a Publish that wrote the new front end and failed before or at the flip).
 */
export async function rollBackDeploymentAndFrontEnd(
  deploymentId: string,
  sql: SqlPort,
  appFiles: AppFilesPort,
  edge: EdgePort,
  names: Pick<TenantResourceNames, 'appFilesFolder' | 'assetsBucket'>,
): Promise<{ rolledBackTo: string | null; skipped?: string; frontEnd: string | null }> {
  const rolledBack = await rollBackDeployment(deploymentId, sql, appFiles, names.appFilesFolder);
  const frontEnd = await republishCurrentFrontEnd(appFiles, edge, names);
  return { ...rolledBack, frontEnd: frontEnd?.releaseId ?? null };
}

/**
 * RollBack: if this deployment's release is current, the release it replaced becomes current
 * again. Safe to run twice, and when nothing was flipped (a failure before or during Publish).
 */
export async function rollBackDeployment(
  deploymentId: string,
  sql: SqlPort,
  appFiles: AppFilesPort,
  folder: string,
): Promise<{ rolledBackTo: string | null; skipped?: string }> {
  const deployment = await new DeploymentRegistry(sql).require(deploymentId);
  const current = await currentRelease(appFiles, folder);
  const { releaseId, previousReleaseId } = deployment;
  if (!releaseId || current !== releaseId) {
    return { rolledBackTo: null, skipped: `release ${releaseId ?? '(none built)'} is not current, so there is nothing to undo` };
  }
  if (!previousReleaseId || previousReleaseId === releaseId) {
    return { rolledBackTo: null, skipped: 'no earlier release served before this one' };
  }
  await rollBackRelease(appFiles, folder, previousReleaseId);
  return { rolledBackTo: previousReleaseId };
}
