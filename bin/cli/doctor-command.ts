/**
 * `hostplane doctor [--fix] [--json]`: drift between the registry and what exists, per tenant,
 * over the control-plane API:
 *
 *   GET  /drift      → the drift report
 *   POST /drift/fix  → the orphans of deleted and unknown tenants removed (`fixed`), and the report made after
 *
 * Exits 1 when drift remains (so scripts can use it), 0 when clean.
 */
import type { Command } from 'commander';
import { apiClientFor } from './api-client.js';

interface ProblemView {
  readonly kind: string;
  readonly resource: string;
  readonly name: string;
  readonly detail: string;
}

/** The drift report as the API answers it (the fields the CLI reads). */
export interface DriftReportView {
  readonly environment: string;
  readonly checkedAt: string;
  readonly tenants: readonly { readonly tenantId: string; readonly status: string; readonly problems: readonly ProblemView[]; readonly skipped?: string }[];
  readonly unknown: readonly (ProblemView & { readonly tenantId: string | null })[];
  readonly notes?: readonly string[];
  readonly fixed?: readonly {
    readonly tenantId: string | null;
    /** DELETED, or null for a tenant the registry does not know. */
    readonly status: string | null;
    readonly removed: readonly { readonly resource: string; readonly name: string }[];
    readonly failed: readonly { readonly resource: string; readonly name: string; readonly error: string }[];
    readonly skipped?: string;
  }[];
}

/** How resources of a tenant the registry does not know are shown in the status column. */
export const UNREGISTERED = 'UNREGISTERED';
const NO_TENANT = '?';

const print = (line: string) => console.log(line);

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('compare the registry with what exists and report drift per tenant; exits 1 when there is drift')
    .option('--fix', 'remove what deleted tenants, and tenants the registry does not know, left behind')
    .option('--json', 'print JSON')
    .action(async (options: { fix?: boolean; json?: boolean }, command: Command) => {
      const api = apiClientFor(command);
      const { body } = options.fix ? await api.expect<DriftReportView>('POST', '/drift/fix') : await api.expect<DriftReportView>('GET', '/drift');
      print(options.json ? JSON.stringify(body, null, 2) : formatDrift(body));
      if (hasDrift(body)) process.exitCode = 1;
    });
}

/** Whether the report (after the fix, if any) shows anything to see to, or a fix failed. */
export function hasDrift(report: DriftReportView): boolean {
  return (
    report.tenants.some((tenant) => tenant.problems.length > 0) ||
    report.unknown.length > 0 ||
    (report.fixed ?? []).some((fix) => fix.failed.length > 0)
  );
}

/**
 * What was removed (with `--fix`), then one block per tenant with problems, a line per problem
 * (`acme  ACTIVE  missing database hp_local_local_acme`), the tenants not checked and why, and a
 * last line `N tenants checked, M with drift`.
 */
export function formatDrift(report: DriftReportView): string {
  const rows: [string, string, string][] = [];
  for (const fix of report.fixed ?? []) {
    const tenant = fix.tenantId ?? NO_TENANT;
    const status = fix.status ?? UNREGISTERED;
    if (fix.skipped) rows.push([tenant, status, `left alone: ${fix.skipped}`]);
    for (const removed of fix.removed) rows.push([tenant, status, `removed ${removed.resource} ${removed.name}`]);
    for (const failed of fix.failed) rows.push([tenant, status, `could not remove ${failed.resource} ${failed.name}: ${failed.error}`]);
  }
  const drifting = report.tenants.filter((tenant) => tenant.problems.length > 0);
  for (const tenant of drifting) {
    for (const problem of tenant.problems) rows.push([tenant.tenantId, tenant.status, `${problem.kind} ${problem.resource} ${problem.detail}`]);
  }
  const unknownTenants = new Set(report.unknown.map((resource) => resource.tenantId ?? NO_TENANT));
  for (const resource of report.unknown) {
    rows.push([resource.tenantId ?? NO_TENANT, UNREGISTERED, `${resource.kind} ${resource.resource} ${resource.detail}`]);
  }
  for (const tenant of report.tenants) if (tenant.skipped) rows.push([tenant.tenantId, tenant.status, `not checked: ${tenant.skipped}`]);

  const widths = [0, 1].map((column) => Math.max(0, ...rows.map((row) => row[column]!.length)));
  const lines = rows.map(([tenant, status, what]) => `${tenant.padEnd(widths[0]!)}  ${status.padEnd(widths[1]!)}  ${what}`);
  for (const note of report.notes ?? []) lines.push(`note: ${note}`);
  const checked = report.tenants.length + unknownTenants.size;
  const withDrift = drifting.length + unknownTenants.size;
  lines.push(`${checked} ${checked === 1 ? 'tenant' : 'tenants'} checked, ${withDrift} with drift`);
  return lines.join('\n');
}
