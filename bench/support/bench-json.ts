import { arch, cpus, platform, release, totalmem } from 'node:os';

/** The machine a figure comes from. */
function machine() {
  return { node: process.version, platform: `${platform()} ${release()} ${arch()}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryMiB: Math.round(totalmem() / 1024 / 1024) };
}

/**
 * Prints the run's one machine-readable line, `BENCH_JSON {...}`: `bench`, `at`, `environment`
 * and `machine` first, then the benchmark's own fields in their order.
 */
export function printBenchJson(bench: string, environment: string, fields: Record<string, unknown>): void {
  const json = { bench, at: new Date().toISOString(), environment, machine: machine(), ...fields };
  console.log(`BENCH_JSON ${JSON.stringify(json)}`);
}
