import type { Command } from 'commander';
import type { tenantView } from '../../lambdas/api/views.js';
import { apiClientFor, CliError } from './api-client.js';
import { followOperation, type OperationView } from './follow-operation.js';
import { localTime, table } from './format.js';

type TenantView = ReturnType<typeof tenantView> & { operations?: OperationView[] };

const print = (line: string) => console.log(line);

const client = apiClientFor;

/** Registers `tenants …` and `operations show`; returns the `tenants` command so others can add to it. */
export function registerTenantCommands(program: Command): Command {
  const tenants = program.command('tenants').description('create, inspect, back up, restore and delete tenants');

  tenants
    .command('create')
    .description('provision a tenant and show each state as it runs')
    .argument('<tenant-id>', 'DNS-label id: 3-40 lowercase letters, digits and hyphens')
    .option('--tier <tier>', 'pooled or dedicated', 'pooled')
    .option('--name <display-name>', 'name shown on the tenant page')
    .option('--memory <mb>', 'memory for the tenant service, in MiB', (value) => parsePositiveInt(value, '--memory'))
    .option('--no-cache', 'do not create a cache user')
    .option('--idempotency-key <key>', 'repeat-safe key: the same key returns the first request')
    .option('--no-wait', 'return once the operation has started')
    .action(async (tenantId: string, options: { tier: string; name?: string; memory?: number; cache: boolean; idempotencyKey?: string; wait: boolean }, command: Command) => {
      const api = client(command);
      const body = {
        tenantId,
        tier: options.tier,
        ...(options.name ? { displayName: options.name } : {}),
        preferences: { ...(options.memory ? { memoryMb: options.memory } : {}), ...(options.cache ? {} : { cache: false }) },
      };
      const headers: Record<string, string> = options.idempotencyKey ? { 'Idempotency-Key': options.idempotencyKey } : {};
      const { body: started } = await api.expect<OperationView>('POST', '/tenants', body, headers);
      print(`provisioning ${tenantId} (operation ${started.operationId})`);
      if (!options.wait) return;
      const ended = await followOperation(api, started.operationId, print);
      const { body: tenant } = await api.expect<TenantView>('GET', `/tenants/${tenantId}`);
      if (ended.status === 'SUCCEEDED') {
        print(`${tenantId} is ${tenant.status} at ${tenant.url ?? '(no url)'}`);
      } else {
        throw new CliError(`${tenantId} is ${tenant.status}: ${ended.error ?? 'the operation failed'}`);
      }
    });

  tenants
    .command('delete')
    .description('deprovision a tenant: a final backup, then every resource removed; asks for the tenant id again unless --yes')
    .argument('<tenant-id>')
    .option('--yes', 'do not ask for confirmation')
    .option('--idempotency-key <key>', 'repeat-safe key: the same key returns the first request')
    .option('--no-wait', 'return once the operation has started')
    .action(async (tenantId: string, options: { yes?: boolean; idempotencyKey?: string; wait: boolean }, command: Command) => {
      const api = client(command);
      const { body: tenant } = await api.expect<TenantView>('GET', `/tenants/${encodeURIComponent(tenantId)}`);
      if (!options.yes) {
        const answer = await ask(
          `This deletes ${tenantId} (${tenant.status}): its database and login, cache user, process, route, static assets, app files and secrets.\n` +
            `A final backup is kept. Type the tenant id to confirm: `,
        );
        if (answer !== tenantId) throw new CliError(answer === undefined ? `not deleted: no answer (pass --yes when nobody can type it)` : `not deleted: "${answer}" is not ${tenantId}`);
      }
      const headers: Record<string, string> = options.idempotencyKey ? { 'Idempotency-Key': options.idempotencyKey } : {};
      const { body: started } = await api.expect<OperationView>('DELETE', `/tenants/${encodeURIComponent(tenantId)}`, undefined, headers);
      print(`deprovisioning ${tenantId} (operation ${started.operationId})`);
      if (!options.wait) return;
      const ended = await followOperation(api, started.operationId, print);
      if (ended.status !== 'SUCCEEDED') {
        throw new CliError(`${tenantId} is DEPROVISION_FAILED: ${ended.error ?? 'the operation failed'}; run \`hostplane tenants delete ${tenantId}\` again to finish`);
      }
      print(`${tenantId} is DELETED; its id can be used again, its backups stay listed`);
    });

  tenants
    .command('list')
    .description('tenants with status, url, creation time and version')
    .option('--all', 'include deleted tenants')
    .option('--json', 'print JSON')
    .action(async (options: { all?: boolean; json?: boolean }, command: Command) => {
      const { body } = await client(command).expect<{ items: TenantView[] }>('GET', `/tenants${options.all ? '?includeDeleted=true' : ''}`);
      if (options.json) return print(JSON.stringify(body.items, null, 2));
      if (body.items.length === 0) return print('no tenants yet: create one with `npx hostplane tenants create <id>`');
      print(
        table(
          ['TENANT', 'STATUS', 'TIER', 'URL', 'CREATED', 'VERSION'],
          body.items.map((t) => [t.tenantId, t.status, t.tier, t.url ?? '-', localTime(t.createdAt), t.version ?? '-']),
        ),
      );
    });

  tenants
    .command('show')
    .description('one tenant: its app, its operations, its latest backup')
    .argument('<tenant-id>')
    .option('--json', 'print JSON')
    .action(async (tenantId: string, options: { json?: boolean }, command: Command) => {
      const api = client(command);
      const path = `/tenants/${encodeURIComponent(tenantId)}`;
      const { body: t } = await api.expect<TenantView>('GET', path);
      if (options.json) return print(JSON.stringify(t, null, 2));
      const [{ body: deployments }, { body: backups }] = await Promise.all([
        api.expect<{ items: { app: string; status: string; releaseId: string | null }[] }>('GET', `${path}/deployments`),
        api.expect<{ items: { backupId: string; reason: string; createdAt: string }[] }>('GET', `${path}/backups`),
      ]);
      const serving = deployments.items.find((d) => d.status === 'SUCCEEDED' && d.releaseId === t.version);
      const latestBackup = backups.items[0];
      print(`${t.tenantId} (${t.displayName})  ${t.status}  tier ${t.tier}  cell ${t.cell ?? '-'}`);
      print(`  url      ${t.url ?? '-'}`);
      print(`  version  ${t.version ?? '-'}${serving ? `  (${serving.app})` : ''}`);
      print(`  backup   ${latestBackup ? `${latestBackup.backupId} (${latestBackup.reason}, ${localTime(latestBackup.createdAt)}), ${backups.items.length} in all` : 'none yet'}`);
      print(`  created  ${localTime(t.createdAt)}   updated ${localTime(t.updatedAt)}`);
      if (t.lastError) print(`  error    ${t.lastError}`);
      for (const op of t.operations ?? []) print(`  ${op.kind.padEnd(12)} ${op.status.padEnd(10)} ${localTime(op.startedAt)}  ${op.operationId}`);
    });

  program
    .command('operations')
    .description('inspect operations')
    .command('show')
    .argument('<operation-id>')
    .option('--json', 'print JSON')
    .action(async (operationId: string, options: { json?: boolean }, command: Command) => {
      const { body: op } = await client(command).expect<OperationView>('GET', `/operations/${encodeURIComponent(operationId)}`);
      if (options.json) return print(JSON.stringify(op, null, 2));
      print(`${op.operationId}  ${op.kind} of ${op.tenantId}  ${op.status}${op.error ? `: ${op.error}` : ''}`);
      for (const step of op.states ?? []) {
        print(`  ${step.status.padEnd(9)} ${step.state}${step.detail ? `  (${step.detail})` : ''}${step.error ? `  ${step.error}` : ''}`);
      }
    });
  return tenants;
}

/** One line typed at the terminal (or piped in); undefined when standard input ends first. */
async function ask(question: string): Promise<string | undefined> {
  const { createInterface } = await import('node:readline');
  const lines = createInterface({ input: process.stdin, output: process.stdout, terminal: Boolean(process.stdin.isTTY) });
  process.stdout.write(question);
  try {
    for await (const line of lines) return line.trim();
    return undefined;
  } finally {
    lines.close();
  }
}

function parsePositiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} takes a whole number, not ${JSON.stringify(value)}`, 2);
  return n;
}
