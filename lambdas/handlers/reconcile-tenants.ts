import middy from '@middy/core';
import { ports } from '../ports/index.js';
import { findDrift, type DriftReport } from '../reconcile/find-drift.js';
import { fixDrift, type TenantFix } from '../reconcile/fix-drift.js';

export interface ReconcileInput {
  /** Also remove what deleted and unknown tenants left behind. @default false */
  readonly fix?: boolean;
  /** Who asked, for the audit trail. @default 'hostplane' (the schedule) */
  readonly requestedBy?: string;
}

/** The drift found (after the fix, when one was asked for), and what the fix removed. */
export type ReconcileResult = DriftReport & { readonly fixed?: TenantFix[] };

/**
 * Compares the registry with what exists and reports drift per tenant; with `fix`, removes the
 * orphans of deleted and unknown tenants, then checks again. Runs on a schedule in the cloud
 * (any other event, such as EventBridge's scheduled event, only reports).
 */
export async function reconcileTenants(event: ReconcileInput | null | undefined): Promise<ReconcileResult> {
  const all = ports();
  const environment = all.config.environment;
  const found = await findDrift(all, { environment });
  if (event?.fix !== true) return logged(found);
  const fixed = await fixDrift(found, all, { actor: event.requestedBy ?? 'hostplane' });
  const removedAny = fixed.some((fix) => fix.removed.length > 0);
  return logged({ ...(removedAny ? await findDrift(all, { environment }) : found), fixed });
}

/** One line for the function's log: the scheduled run's result goes nowhere else. */
function logged(result: ReconcileResult): ReconcileResult {
  const drifting = result.tenants.filter((tenant) => tenant.problems.length > 0).map((tenant) => tenant.tenantId);
  const removed = (result.fixed ?? []).reduce((sum, fix) => sum + fix.removed.length, 0);
  console.log(
    JSON.stringify({
      message: 'reconciled tenants',
      checked: result.tenants.length,
      drifting,
      unknownResources: result.unknown.length,
      ...(result.fixed ? { removed } : {}),
    }),
  );
  return result;
}

export const handler = middy<ReconcileInput | null | undefined, ReconcileResult>().handler(reconcileTenants);
