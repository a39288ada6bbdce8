/** The deploy benchmark's options, and the app definition it starts from. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAppDefinition, type AppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { DEFAULT_REDIS_URL } from '../support/control-plane.js';
import { databaseUrlOption, parseFlags, parseIntegerOption, redisUrlFromEnvironment, UsageError } from '../support/options.js';

const PARTS = ['swap', 'deploy', 'all'] as const;
export type Part = (typeof PARTS)[number];

const DEFAULT_DEFINITION = fileURLToPath(new URL('../../lambdas/app-definition/examples/starter.json', import.meta.url));
/** How often both supervisors read `current` (the reloader's default). */
export const CURRENT_POLL_MS = 1_000;

export interface BenchOptions {
  readonly part: Part;
  readonly clients: number;
  readonly swaps: number;
  readonly deploys: number;
  readonly settleMs: number;
  readonly retryPauseMs: number;
  readonly timeoutSeconds: number;
  readonly pollMs: number;
  readonly versionPollMs: number;
  readonly definitionFile: string;
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
  readonly verbose: boolean;
}

export const USAGE = `Usage: npx tsx bench/deploy-bench.ts [options]

Part "swap": moves a tenant between two releases of a generated app under load, with the
reloader and with a naive kill-then-start supervisor, and compares failed requests and the
time until the new release answers. Part "deploy": a local control plane, one tenant, and N
deploys of a changed app definition, each timed until the front door serves the new release.

Options:
  --part swap|deploy|all  which part to run (default all)
  --clients N             keep-alive load clients in the swap part (default 8, 1-64)
  --swaps N               swaps per supervisor, alternating A→B→A… (default 20, 1-500)
  --deploys N             deploys in the deploy part, each adding a field (default 20, 1-200)
  --settle-ms MS          pause after a swap has finished, before the next flip; a random
                          0-${CURRENT_POLL_MS} ms is added to it (default 500, 0-60000)
  --retry-pause-ms MS     a load client waits this long after a failed request (default 10, 0-1000)
  --timeout-seconds S     give up on one swap or one deploy after this long (default 120, 5-3600)
  --poll-ms MS            interval between GET /operations/{id} polls (default 50, 5-5000)
  --version-poll-ms MS    interval between GET /version polls through the front door (default 20, 5-5000)
  --definition FILE       the app definition to start from (default the Starter example); the
                          swap part's release B and each deploy add nullable fields f1, f2, …
                          to its first entity
  --database-url URL      use this PostgreSQL (admin login) instead of an embedded one
                          (default: $DATABASE_URL if set, else the embedded PostgreSQL)
  --verbose               print the supervisors' and apps' log lines
  -h, --help              show this help

Environment: DATABASE_URL (as --database-url), REDIS_URL (default ${DEFAULT_REDIS_URL}).
Ends with tables and one line "BENCH_JSON {...}". Exit code 0 when every swap and deploy
worked, 1 when any failed (or the deploy pipeline is missing), 2 on bad arguments, 130 on Ctrl-C.`;

export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const values = parseFlags(
    argv,
    {
      part: { type: 'string' },
      clients: { type: 'string' },
      swaps: { type: 'string' },
      deploys: { type: 'string' },
      'settle-ms': { type: 'string' },
      'retry-pause-ms': { type: 'string' },
      'timeout-seconds': { type: 'string' },
      'poll-ms': { type: 'string' },
      'version-poll-ms': { type: 'string' },
      definition: { type: 'string' },
      'database-url': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    { firstSentence: true },
  );
  if (values.help) return 'help';
  const part = values.part ?? 'all';
  if (!(PARTS as readonly string[]).includes(part)) throw new UsageError(`--part must be swap, deploy or all, got "${part}"`);
  return {
    part: part as Part,
    clients: parseIntegerOption('clients', values.clients, 8, 1, 64),
    swaps: parseIntegerOption('swaps', values.swaps, 20, 1, 500),
    deploys: parseIntegerOption('deploys', values.deploys, 20, 1, 200),
    settleMs: parseIntegerOption('settle-ms', values['settle-ms'], 500, 0, 60_000),
    retryPauseMs: parseIntegerOption('retry-pause-ms', values['retry-pause-ms'], 10, 0, 1_000),
    timeoutSeconds: parseIntegerOption('timeout-seconds', values['timeout-seconds'], 120, 5, 3_600),
    pollMs: parseIntegerOption('poll-ms', values['poll-ms'], 50, 5, 5_000),
    versionPollMs: parseIntegerOption('version-poll-ms', values['version-poll-ms'], 20, 5, 5_000),
    definitionFile: values.definition ?? DEFAULT_DEFINITION,
    databaseUrl: databaseUrlOption(values['database-url']),
    redisUrl: redisUrlFromEnvironment(),
    verbose: values.verbose ?? false,
  };
}

/** The starting definition, checked like the API checks one; a bad file is a usage error. */
export function loadDefinition(file: string): AppDefinition {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--definition ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let definition: AppDefinition;
  try {
    definition = parseAppDefinition(json);
  } catch (error) {
    throw new UsageError(`--definition ${file}: ${(error instanceof Error ? error.message : String(error)).replaceAll('\n', '; ')}`);
  }
  const taken = definition.entities[0]!.fields.map((field) => field.name).filter((name) => /^f\d+$/.test(name));
  if (taken.length) throw new UsageError(`--definition ${file}: its first entity already has field(s) ${taken.join(', ')}; the benchmark adds f1, f2, …`);
  return definition;
}

/** `base` with nullable string fields f1…f<count> added to its first entity: an additive change. */
export function withExtraFields(base: AppDefinition, count: number): AppDefinition {
  const [first, ...rest] = base.entities;
  const extra = Array.from({ length: count }, (_, i) => ({ name: `f${i + 1}`, type: 'string' as const }));
  return parseAppDefinition({ ...base, entities: [{ ...first!, fields: [...first!.fields, ...extra] }, ...rest] });
}
