import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { backupView } from '../../lambdas/api/backup-views.js';
import { apiClientFor, CliError, type ApiClient } from './api-client.js';
import { followOperation, type OperationView } from './follow-operation.js';
import { localTime, table } from './format.js';

type BackupView = ReturnType<typeof backupView>;

const print = (line: string) => console.log(line);

const client = apiClientFor;

export function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** What a backup, restore or export operation gave (GET /operations/{id}: `result`, and an export's `download`). */
interface BackupResult {
  readonly backupId: string;
  readonly rows?: number;
  readonly entities?: number | readonly { entity: string; rows: number }[];
  readonly bytes?: number;
  readonly files?: readonly string[];
  readonly deploymentId?: string | null;
  readonly deploymentOperationId?: string;
  readonly deploymentError?: string;
}
type BackupOperation = OperationView & { result: BackupResult | null; download?: { url: string; expiresAt: string } };

const idempotencyHeaders = (key: string | undefined): Record<string, string> => (key ? { 'Idempotency-Key': key } : {});
const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/** Starts a backup, restore or export, shows its states until it ends, and returns it; a failure is a CliError with the reason. */
async function runOperation(api: ApiClient, what: string, path: string, body: unknown, headers: Record<string, string>, wait: boolean): Promise<BackupOperation | undefined> {
  const { body: started } = await api.expect<OperationView>('POST', path, body, headers);
  print(`${what} (operation ${started.operationId})`);
  if (!wait) return undefined;
  const ended = (await followOperation(api, started.operationId, print)) as BackupOperation;
  if (ended.status !== 'SUCCEEDED' || !ended.result) throw new CliError(`${what} failed: ${ended.error ?? 'the operation failed'}`);
  return ended;
}

/** `tenants backup`, `tenants backups`, `tenants export`, `tenants restore`: each an operation, followed to its end. */
export function registerBackupCommands(tenants: Command): void {
  tenants
    .command('backup')
    .description("take a restorable backup of a tenant's data now (an operation, followed to its end)")
    .argument('<tenant-id>')
    .option('--idempotency-key <key>', 'repeat-safe key: the same key returns the first request')
    .option('--no-wait', 'return once the operation has started')
    .action(async (tenantId: string, options: { idempotencyKey?: string; wait: boolean }, command: Command) => {
      const api = client(command);
      const path = `/tenants/${encodeURIComponent(tenantId)}/backups`;
      const ended = await runOperation(api, `backing up ${tenantId}`, path, undefined, idempotencyHeaders(options.idempotencyKey), options.wait);
      if (!ended) return;
      const { backupId, rows = 0, entities = 0, bytes = 0 } = ended.result!;
      print(`backup ${backupId} of ${tenantId}: ${plural(rows, 'row', 'rows')} in ${plural(Number(entities), 'entity', 'entities')}, ${sizeOf(bytes)}`);
    });

  tenants
    .command('backups')
    .description("a tenant's backups, newest first (a deleted tenant's too)")
    .argument('<tenant-id>')
    .option('--json', 'print JSON')
    .action(async (tenantId: string, options: { json?: boolean }, command: Command) => {
      const { body } = await client(command).expect<{ items: BackupView[] }>('GET', `/tenants/${encodeURIComponent(tenantId)}/backups`);
      if (options.json) return print(JSON.stringify(body.items, null, 2));
      if (body.items.length === 0) return print(`no backups of ${tenantId} yet: take one with \`npx hostplane tenants backup ${tenantId}\``);
      print(
        table(
          ['BACKUP', 'REASON', 'APP', 'ROWS', 'SIZE', 'TAKEN', 'KEPT UNTIL'],
          body.items.map((b) => [b.backupId, b.reason, b.app ?? '-', String(b.rows), sizeOf(b.bytes), localTime(b.createdAt), b.expiresAt ? localTime(b.expiresAt) : 'removed by hand']),
        ),
      );
    });

  tenants
    .command('export')
    .description("the tenant's data in open formats (schema.json and a CSV per entity, one .tar.gz), downloaded through its time-limited link")
    .argument('<tenant-id>')
    .option('--out <file>', 'where to write the archive @default <tenant>-<backup>.tar.gz here')
    .option('--backup <backup-id>', 'export this backup instead of taking a new one')
    .action(async (tenantId: string, options: { out?: string; backup?: string }, command: Command) => {
      const api = client(command);
      const tenantPath = `/tenants/${encodeURIComponent(tenantId)}`;
      const backupId = options.backup ?? (await runOperation(api, `backing up ${tenantId}`, `${tenantPath}/backups`, undefined, {}, true))!.result!.backupId;
      const ended = (await runOperation(api, `exporting ${backupId}`, `${tenantPath}/backups/${encodeURIComponent(backupId)}/export`, undefined, {}, true))!;
      if (!ended.download) throw new CliError(`the export of ${backupId} ended without a link to its archive`);
      const answer = await fetch(ended.download.url).catch((error: unknown) => {
        throw new CliError(`cannot download the export: ${error instanceof Error ? error.message : String(error)}`);
      });
      if (!answer.ok) throw new CliError(`downloading the export answered ${answer.status}: ${(await answer.text()).slice(0, 300)}`);
      const archive = Buffer.from(await answer.arrayBuffer());
      const out = resolve(options.out ?? `${tenantId}-${backupId}.tar.gz`);
      await writeFile(out, archive).catch((error: unknown) => {
        throw new CliError(`cannot write ${out}: ${error instanceof Error ? error.message : String(error)}`);
      });
      print(`exported ${tenantId} (backup ${backupId}) to ${out}: ${sizeOf(archive.length)}, ${(ended.result!.files ?? []).join(', ')} (open it with tar -xzf)`);
    });

  tenants
    .command('restore')
    .description("replace a tenant's data with a backup's (that tenant only), as an operation followed to its end")
    .argument('<tenant-id>')
    .requiredOption('--backup <backup-id>', 'the backup to restore (see `tenants backups`)')
    .option('--idempotency-key <key>', 'repeat-safe key: the same key returns the first request')
    .option('--no-wait', 'return once the operation has started')
    .action(async (tenantId: string, options: { backup: string; idempotencyKey?: string; wait: boolean }, command: Command) => {
      const api = client(command);
      const path = `/tenants/${encodeURIComponent(tenantId)}/restore`;
      const ended = await runOperation(api, `restoring ${tenantId} from ${options.backup}`, path, { backupId: options.backup }, idempotencyHeaders(options.idempotencyKey), options.wait);
      if (!ended) return;
      const result = ended.result!;
      const entities = Array.isArray(result.entities) ? result.entities : [];
      const rows = entities.reduce((sum, entity) => sum + entity.rows, 0);
      print(`restored ${tenantId} from ${options.backup}: ${plural(rows, 'row', 'rows')} in ${plural(entities.length, 'entity', 'entities')}`);
      if (result.deploymentOperationId) {
        print(`the backup's app is being deployed again (deployment ${result.deploymentId ?? '?'}); follow it with \`npx hostplane operations show ${result.deploymentOperationId}\``);
      }
      if (result.deploymentError) print(result.deploymentError);
    });
}
