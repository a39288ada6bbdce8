/**
 * What ships to AWS, measured offline: synthesizes the stacks of a sample environment (the same
 * builder `cdk deploy` uses), then for each Lambda reports its bundle's size and the time `node`
 * takes to import the built bundle cold (a fresh process each time: parse, evaluate, install the
 * cloud ports), and counts the resources of each stack.
 *
 *   npm run bench:bundles            # 3 cold imports per bundle
 *   npm run bench:bundles -- --runs 5
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { buildHostplane } from '../lib/hostplane-app.js';
import { parseHostplaneConfig } from '../lib/hostplane-config.js';
import { printBenchJson } from './support/bench-json.js';
import { fmt, table } from './support/format.js';
import { median } from './support/stats.js';

const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 3;
if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
  console.error('--runs must be an integer from 1 to 50');
  process.exit(2);
}

const outdir = mkdtempSync(join(tmpdir(), 'hostplane-synth-'));
try {
  console.log(`synthesizing the sample environment into ${outdir} (bundles every Lambda with esbuild)…`);
  const started = performance.now();
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  const config = parseHostplaneConfig({
    environment: 'bench',
    domain: 'apps.example.com',
    hostedZoneId: 'Z0EXAMPLE0000000000',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000',
    cells: [{ name: 'c1' }],
  });
  const { cells, controlPlane } = buildHostplane(app, config, { account: '123456789012', region: 'eu-west-1' });
  const assembly = app.synth();
  console.log(`synthesized in ${fmt((performance.now() - started) / 1000, 1, ' s')}`);

  const stackRows = [...cells, controlPlane].map((stack) => {
    const template = assembly.getStackByName(stack.stackName).template as { Resources: Record<string, { Type: string }> };
    return [stack.stackName, String(Object.keys(template.Resources).length)];
  });
  console.log(`\nresources per stack\n${table(['stack', 'resources'], stackRows)}`);

  const template = assembly.getStackByName(controlPlane.stackName).template as {
    Resources: Record<string, { Type: string; Properties: { Description?: string }; Metadata?: Record<string, string> }>;
  };
  const bundles = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function' && resource.Metadata?.['aws:asset:path'])
    .map(([id, resource]) => ({ id, entry: resource.Properties.Description ?? id, file: join(outdir, resource.Metadata!['aws:asset:path']!, 'index.mjs') }))
    .filter((bundle) => statSafe(bundle.file) !== undefined);

  console.log(`\ncold import of ${bundles.length} bundles, ${runs} fresh processes each…`);
  const rows = bundles.map((bundle) => {
    const times = Array.from({ length: runs }, () => coldImportMs(bundle.file));
    return { entry: bundle.entry, bytes: statSafe(bundle.file)!, importMs: median(times) };
  });
  rows.sort((a, b) => b.bytes - a.bytes);
  console.log(table(['function (entry)', 'bundle', 'cold import (median)'], rows.map((r) => [r.entry, `${fmt(r.bytes / 1024, 0)} KiB`, fmt(r.importMs, 0, ' ms')])));
  const sizes = rows.map((r) => r.bytes / 1024);
  const imports = rows.map((r) => r.importMs);
  console.log(`\nbundles: median ${fmt(median(sizes), 0)} KiB, largest ${fmt(Math.max(...sizes), 0)} KiB; cold import median ${fmt(median(imports), 0)} ms, slowest ${fmt(Math.max(...imports), 0)} ms (node ${process.version}; Lambda runs Node 22 on arm64)`);
  printBenchJson('lambda-bundles', 'bench', {
    stacks: Object.fromEntries(stackRows),
    functions: rows.map((r) => ({ entry: r.entry, bytes: r.bytes, coldImportMs: Math.round(r.importMs) })),
  });
} finally {
  rmSync(outdir, { recursive: true, force: true });
}

function statSafe(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

/** A fresh `node` imports the bundle; the time from before `import()` to its end, as the child measured it. */
function coldImportMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const output = execFileSync(process.execPath, ['--input-type=module', '--enable-source-maps', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', AWS_REGION: 'eu-west-1' },
  });
  return Number(output.trim().split('\n').pop());
}
