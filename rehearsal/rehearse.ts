/**
 * `npm run rehearse`: the cloud world run as a whole on one machine. Synthesizes the CDK app (or
 * takes `--assembly <dir>`), deploys it into a stand-in account (rehearsal-world.ts), then drives
 * tenants through their lifecycle with the API's own functions and checks what an operator would
 * see in each emulated service. Exits 0 when every check passed; prints each state's time.
 * See rehearsal/README.md.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { readCloudAssembly } from './cloud-assembly.js';
import { deployRehearsalWorld, type RehearsalWorld } from './rehearsal-world.js';
import { runScenario } from './scenario.js';
import { printReport } from './report.js';
import { isEntryPoint } from '../runtime/is-entry-point.js';

const run = promisify(execFile);

export interface RehearsalOptions {
  /** A `cdk synth -o` output to use instead of synthesizing. */
  readonly assembly?: string;
  /** Tenants driven through the lifecycle. @default 2 */
  readonly tenants?: number;
  /** Keep the work folder (logs, the stand-in file system) for a look afterwards. */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

export interface RehearsalResult {
  readonly passed: boolean;
  readonly failures: readonly string[];
  readonly workDir: string;
}

export async function rehearse(options: RehearsalOptions = {}): Promise<RehearsalResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const workDir = await mkdtemp(join(tmpdir(), 'hostplane-rehearsal-'));
  const stoppers: (() => Promise<void> | void)[] = [];
  const failures: string[] = [];
  // Interrupted (Ctrl-C, a CI deadline): stop every server and process started, then leave.
  const interrupted = (signal: NodeJS.Signals) => {
    log(`\n${signal}: stopping the rehearsal's servers and processes…`);
    void stopAll(stoppers).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  let world: RehearsalWorld | undefined;
  try {
    let assemblyDir = options.assembly;
    if (!assemblyDir) {
      assemblyDir = join(workDir, 'cdk.out');
      log(`synthesizing the app into ${assemblyDir} (bundles every Lambda; a minute or two)…`);
      const started = performance.now();
      await run('npx', ['cdk', 'synth', '--quiet', '-o', assemblyDir], { maxBuffer: 64 * 1024 * 1024 });
      log(`synthesized in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const assembly = readCloudAssembly(assemblyDir);
    world = await deployRehearsalWorld(assembly, workDir, stoppers, (line) => log(`  ${line}`));
    failures.push(...(await runScenario(world, { tenants: options.tenants ?? 2, log })));
  } catch (error) {
    failures.push(`the rehearsal stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    if (world) printReport(world, log);
    failures.push(...(await stopAll(stoppers)));
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    if (!options.keep && failures.length === 0) await rm(workDir, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    log(`\nREHEARSAL FAILED (${failures.length}); logs are in ${workDir}/logs`);
    failures.forEach((failure) => log(`  ✗ ${failure}`));
  } else log('\nrehearsal passed');
  return { passed: failures.length === 0, failures, workDir };
}

/** Stops what was started, newest first; each stop runs once, whatever the others do. */
async function stopAll(stoppers: (() => Promise<void> | void)[]): Promise<string[]> {
  const problems: string[] = [];
  while (stoppers.length > 0) {
    const stop = stoppers.pop()!;
    try {
      await stop();
    } catch (error) {
      problems.push(`stopping a stand-in failed: ${String(error)}`);
    }
  }
  return problems;
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({
    options: { assembly: { type: 'string' }, tenants: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('usage: npm run rehearse -- [--assembly <cdk.out dir>] [--tenants N] [--keep]\n');
    process.exit(0);
  }
  const tenants = values.tenants === undefined ? undefined : Number(values.tenants);
  if (tenants !== undefined && (!Number.isInteger(tenants) || tenants < 1 || tenants > 20)) {
    process.stderr.write('rehearse: --tenants must be a whole number from 1 to 20\n');
    process.exit(2);
  }
  const result = await rehearse({ assembly: values.assembly, tenants, keep: values.keep });
  process.exit(result.passed ? 0 : 1);
}
