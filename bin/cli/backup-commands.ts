import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { backupView } from '../../lambdas/api/backup-views.js';
import { apiClientFor, CliError } from './api-client.js';
import { localTime, table } from './format.js';

type BackupView = ReturnType<typeof backupView>;

const print = (line: string) => console.log(line);

const client = apiClientFor;

export function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** `tenants backup`, `tenants backups`, `tenants export`, `tenants restore`. */
export function registerBackupCommands(tenants: Command): void {
  tenants
    .command('backup')
    .description("take a restorable backup of a tenant's data now")
    .argument('<tenant-id>')
    .action(async (tenantId: string, _options: unknown, command: Command) => {
      const { body: backup } = await client(command).expect<BackupView>('POST', `/tenants/${encodeURIComponent(tenantId)}/backups`);
      print(`backup ${backup.backupId} of ${tenantId}: ${backup.rows} row(s) in ${backup.entities} entit${backup.entities === 1 ? 'y' : 'ies'}, ${sizeOf(backup.bytes)}`);
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
    .description("the tenant's data in open formats: schema.json and a CSV per entity")
    .argument('<tenant-id>')
    .requiredOption('--out <dir>', 'folder to write the files to (created if missing)')
    .option('--backup <backup-id>', 'export this backup instead of taking a new one')
    .action(async (tenantId: string, options: { out: string; backup?: string }, command: Command) => {
      const api = client(command);
      const tenantPath = `/tenants/${encodeURIComponent(tenantId)}`;
      const backupId = options.backup ?? (await api.expect<BackupView>('POST', `${tenantPath}/backups`)).body.backupId;
      const { body } = await api.expect<{ files: Record<string, string> }>('GET', `${tenantPath}/backups/${encodeURIComponent(backupId)}/export`);
      const out = resolve(options.out);
      await mkdir(out, { recursive: true }).catch((error: unknown) => {
        throw new CliError(`cannot create ${out}: ${error instanceof Error ? error.message : String(error)}`);
      });
      for (const [name, content] of Object.entries(body.files)) {
        if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) throw new CliError(`the control plane sent an unsafe file name: ${JSON.stringify(name)}`);
        await writeFile(join(out, name), content);
      }
      print(`exported ${tenantId} (backup ${backupId}) to ${out}: ${Object.keys(body.files).sort().join(', ')}`);
    });

  tenants
    .command('restore')
    .description("replace a tenant's data with a backup's (that tenant only)")
    .argument('<tenant-id>')
    .requiredOption('--backup <backup-id>', 'the backup to restore (see `tenants backups`)')
    .action(async (tenantId: string, options: { backup: string }, command: Command) => {
      const { body } = await client(command).expect<{
        entities: { entity: string; rows: number }[];
        deployment: { deploymentId: string; operationId: string } | null;
      }>('POST', `/tenants/${encodeURIComponent(tenantId)}/restore`, { backupId: options.backup });
      const rows = body.entities.reduce((sum, entity) => sum + entity.rows, 0);
      print(`restored ${tenantId} from ${options.backup}: ${rows} row(s) in ${body.entities.length} entit${body.entities.length === 1 ? 'y' : 'ies'}`);
      if (body.deployment) print(`the backup's app is being deployed again (deployment ${body.deployment.deploymentId}); follow it with \`npx hostplane operations show ${body.deployment.operationId}\``);
    });
}
