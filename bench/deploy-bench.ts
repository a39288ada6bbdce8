/**
 * Deploy benchmark (see bench/README.md), in two parts:
 *
 *   swap    "swap under load": the reloader (runtime/reloader) against a naive supervisor (kill
 *           the old process, then start the new one on the same port) moving a tenant from
 *           release A to release B and back while keep-alive clients send requests back to back.
 *           The releases are a real generated app (codegen), compiled here, on a throw-away
 *           database and role.
 *   deploy  "app change → new version serving at the front door": a whole local control plane,
 *           one tenant, N deploys each adding a field; timed from POST /tenants/{id}/deployments
 *           to GET /version through the front door naming the new release.
 *
 * Prints one line per swap / deploy, tables, and a `BENCH_JSON {...}` line. Everything it made
 * (processes, databases, roles, cache users, folders) is removed at the end, on failure and on
 * Ctrl-C too.
 */
import { tmpdir } from 'node:os';
import { printBenchJson } from './support/bench-json.js';
import { Cleanup } from './support/cleanup.js';
import { uniqueEnvironment } from './support/control-plane.js';
import { errorStack, errorText, fmt } from './support/format.js';
import { handleStopSignals, runMain, runThenCleanUp } from './support/lifecycle.js';
import { readCommandLine } from './support/options.js';
import { round } from './support/stats.js';
import { now } from './support/time.js';
import { startBenchDatabase } from './deploy/bench-database.js';
import { PipelineMissingError, reportDeploy, runDeployPart, type DeployPartResult } from './deploy/deploy-to-front-door.js';
import { CURRENT_POLL_MS, loadDefinition, parseOptions, USAGE } from './deploy/options.js';
import { reportSwap, runSwapPart, type SwapPartResult } from './deploy/swap-under-load.js';

async function main(): Promise<number> {
  const commandLine = readCommandLine(
    () => {
      const parsed = parseOptions(process.argv.slice(2));
      return parsed === 'help' ? parsed : { options: parsed, base: loadDefinition(parsed.definitionFile) };
    },
    USAGE,
    (message) => `deploy-bench: ${message} (--help lists the options)`,
  );
  if ('exitCode' in commandLine) return commandLine.exitCode;
  const { options, base } = commandLine.options;

  const environment = uniqueEnvironment();
  const cleanup = new Cleanup();
  const stopping = handleStopSignals({
    cleanup,
    leftovers: () => `${tmpdir()}/hostplane-deploy-bench-* and hpbench_* / hp_${environment}_* databases`,
    sameSignalWithinMs: 1_000,
  });

  const benchStarted = now();
  let swap: SwapPartResult | undefined;
  let deploy: DeployPartResult | undefined;
  const failures: string[] = [];
  return runThenCleanUp(cleanup, stopping, async () => {
    console.log(`Hostplane deploy benchmark: part ${options.part}, app definition "${base.name}" (${options.definitionFile})`);
    const db = await startBenchDatabase(cleanup, options);
    if (stopping()) return 130;
    if (options.part !== 'deploy') {
      const mark = cleanup.mark;
      try {
        swap = await runSwapPart(cleanup, options, db, base, stopping);
      } catch (error) {
        if (stopping()) return 130;
        failures.push(`swap part: ${errorText(error)}`);
        console.error(`\nSwap part failed: ${options.verbose ? errorStack(error) : errorText(error)}`);
      }
      // The swap part's processes, database and folder are not needed by the deploy part.
      if (stopping()) return 130;
      console.log('Cleaning up the swap part…');
      await cleanup.undoSince(mark);
      if (swap) reportSwap(swap);
    }
    if (options.part !== 'swap' && !stopping()) {
      try {
        deploy = await runDeployPart(cleanup, environment, options, db, base, stopping);
      } catch (error) {
        if (stopping()) return 130;
        if (error instanceof PipelineMissingError) {
          failures.push(`deploy part: ${error.message}`);
          console.error(`\ndeploy part: ${error.message}`);
        } else {
          failures.push(`deploy part: ${errorText(error)}`);
          console.error(`\nDeploy part failed: ${options.verbose ? errorStack(error) : errorText(error)}`);
        }
      }
      if (stopping()) return 130;
      if (deploy) reportDeploy(deploy);
    }
    if (stopping()) return 130;

    for (const mode of swap?.modes ?? []) if (mode.error) failures.push(`swap part, ${mode.mode}: ${mode.error}`);
    for (const d of deploy?.deploys ?? []) if (!d.ok) failures.push(`deploy ${d.index}: ${d.error}`);
    if (failures.length) {
      console.log(`\n=== ${failures.length} failure(s) ===`);
      for (const f of failures) console.log(`  ${f}`);
    }
    const totalMs = now() - benchStarted;
    console.log(`\nTotal run time ${fmt(totalMs / 1000, 1)} s (cleanup of the deploy part not included).`);
    printBenchJson('deploy', environment, {
      options: {
        part: options.part,
        clients: options.clients,
        swaps: options.swaps,
        deploys: options.deploys,
        settleMs: options.settleMs,
        retryPauseMs: options.retryPauseMs,
        timeoutSeconds: options.timeoutSeconds,
        pollMs: options.pollMs,
        versionPollMs: options.versionPollMs,
        currentPollMs: CURRENT_POLL_MS,
        definition: base.name,
      },
      swap: swap ? { ...swap, modes: swap.modes.map(({ swaps: perSwap, ...rest }) => ({ ...rest, perSwap })) } : null,
      deploy: deploy ?? null,
      database: db.embedded ? 'embedded' : 'external',
      failures,
      totalMs: round(totalMs),
    });
    return failures.length ? 1 : 0;
  });
}

runMain(main);
