import type { RehearsalWorld } from './rehearsal-world.js';

const ms = (value: number) => `${Math.round(value)} ms`;

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Each state's time (median and worst over the runs), and every function's cold starts with their import time. */
export function printReport(world: RehearsalWorld, log: (line: string) => void): void {
  const byState = new Map<string, { durations: number[]; errors: number }>();
  for (const task of world.stepFunctions.tasks) {
    const key = `${task.stateMachine} / ${task.state}`;
    const entry = byState.get(key) ?? { durations: [], errors: 0 };
    entry.durations.push(task.durationMs);
    if (task.outcome === 'error') entry.errors += 1;
    byState.set(key, entry);
  }
  log('\nstates (runs, p50, max, errors):');
  for (const [state, { durations, errors }] of [...byState].sort(([a], [b]) => a.localeCompare(b))) {
    log(`  ${state.padEnd(56)} ${String(durations.length).padStart(3)}  ${ms(percentile(durations, 50)).padStart(8)}  ${ms(Math.max(...durations)).padStart(8)}  ${errors ? `${errors} failed` : ''}`);
  }
  const cold = world.lambdas.records.filter((record) => record.coldStart && record.importMs !== undefined);
  const imports = cold.map((record) => record.importMs!);
  log(`\ncold starts: ${cold.length} (import p50 ${ms(percentile(imports, 50))}, max ${ms(Math.max(0, ...imports))}); invocations: ${world.lambdas.records.length}`);
  const slowest = [...cold].sort((a, b) => b.importMs! - a.importMs!).slice(0, 5);
  for (const record of slowest) log(`  ${record.functionName.padEnd(56)} import ${ms(record.importMs!)}`);
  for (const resource of world.customResources) log(`custom resource ${resource.logicalId}: ${ms(resource.ms)}`);
  const problems = world.agent.problems();
  if (problems.length) log(`\nECS agent problems:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
}
