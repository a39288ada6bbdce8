import type { BackupStorePort } from '../ports/backup-store.js';
import type { SqlValue } from '../ports/sql.js';
import { entityColumns, readBackup } from './backup-format.js';

export const EXPORT_SCHEMA_FILE = 'schema.json';

/**
 * A tenant's data in formats a person can take elsewhere, made from a backup (so it is as
 * consistent as the backup, and verified like a restore): `schema.json` (the definition and,
 * per entity, its columns and their types) and one RFC 4180 CSV per entity, `<entity>.csv`,
 * with a header row of column names and its rows in id order.
 *
 * In the CSV, an empty field is null and `""` an empty string; a field holding a comma, a quote,
 * a CR or a LF is quoted (its quotes doubled); records end with CRLF. Values are the backup's:
 * timestamps in ISO 8601 (UTC), booleans `true`/`false`.
 */
export async function exportBackup(store: BackupStorePort, prefix: string): Promise<Map<string, string>> {
  const { manifest, entities } = await readBackup(store, prefix);
  const files = new Map<string, string>();
  const schema = {
    format: manifest.format,
    backupId: manifest.backupId,
    tenantId: manifest.tenantId,
    createdAt: manifest.createdAt,
    definition: manifest.definition,
    entities: entities.map(({ definition, backup }) => ({
      entity: definition.name,
      file: csvFileOf(definition.name),
      rows: backup.rows,
      columns: entityColumns(definition),
    })),
  };
  files.set(EXPORT_SCHEMA_FILE, `${JSON.stringify(schema, null, 2)}\n`);
  for (const { definition, rows } of entities) {
    const columns = entityColumns(definition).map((column) => column.name);
    const lines = [csvRecord(columns), ...rows.map((row) => csvRecord(columns.map((column) => row[column] ?? null)))];
    files.set(csvFileOf(definition.name), lines.join(''));
  }
  return files;
}

function csvFileOf(entity: string): string {
  return `${entity}.csv`;
}

/** One CSV record, CRLF-terminated. */
export function csvRecord(values: readonly SqlValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** A CSV field (RFC 4180): null is empty, an empty string `""`; quoted when it holds `,` `"` CR or LF. */
export function csvField(value: SqlValue): string {
  if (value === null) return '';
  const text = String(value);
  if (text === '' || /[",\r\n]/.test(text)) return `"${text.replaceAll('"', '""')}"`;
  return text;
}
