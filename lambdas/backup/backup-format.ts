import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  AppDefinitionError,
  formatIssuePath,
  parseAppDefinition,
  type AppDefinition,
  type EntityDefinition,
  type FieldType,
} from '../app-definition/app-definition-schema.js';
import { COLUMN_TYPES, definitionFingerprint } from '../app-definition/migration-plan.js';
import { errorMessage, PermanentError } from '../domain/errors.js';
import { checkBackupKey, type BackupStorePort } from '../ports/backup-store.js';
import type { SqlRow, SqlValue } from '../ports/sql.js';

/**
 * The per-tenant backup format, `hostplane-backup/1`. Under a backup's prefix:
 *
 * - `data/<entity>.jsonl`: the entity's rows in id order, one JSON object per line (`\n` after
 *   each), keys the column names in table order (`id`, the fields, `created_at`, `updated_at`),
 *   values as the SQL port returns them (strings, numbers, booleans, null; a bigint beyond 2^53
 *   as a string), except that timestamps are ISO 8601 text in UTC with microseconds
 *   (`2026-11-23T13:08:53.035186+00:00`, `infinity`) so none is cut to milliseconds, and a
 *   non-finite number is the string `NaN`, `Infinity` or `-Infinity` (JSON has none).
 * - `manifest.json`, written last: what the backup holds, with each file's size, row count and
 *   SHA-256. A backup without it is incomplete: it is never listed and never restored.
 *
 * Everything in a backup is checked before use, as untrusted input: the definition is parsed
 * again, every file must match the manifest, and SQL is only ever built from the parsed
 * definition, never from names in the manifest.
 */

export const BACKUP_FORMAT = 'hostplane-backup/1';
export const MANIFEST_FILE = 'manifest.json';

/** One entity's rows in a backup. */
export interface EntityBackup {
  readonly entity: string;
  /** `<schema>.<entity>`, for a person. */
  readonly table: string;
  /** Column names, in the order of each row's keys. */
  readonly columns: readonly string[];
  readonly rows: number;
  /** Size of the data file. */
  readonly bytes: number;
  /** SHA-256 of the data file, hex. */
  readonly sha256: string;
  /** The data file, relative to the backup's prefix: `data/<entity>.jsonl`. */
  readonly file: string;
}

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly backupId: string;
  readonly tenantId: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly reason: string;
  /** The definition the tenant's schema was at (as kept in its `schema_state`); null if it never deployed. */
  readonly definition: AppDefinition | null;
  /** The definition's fingerprint, as `schema_state` kept it; null with no definition. */
  readonly fingerprint: string | null;
  readonly entities: readonly EntityBackup[];
}

/** A backup that cannot be used: missing, incomplete, tampered with, or not of this format. Names the file. */
export class BackupInvalidError extends PermanentError {
  constructor(
    readonly prefix: string,
    /** Relative to the prefix (`manifest.json`, `data/book.jsonl`). */
    readonly file: string,
    problem: string,
  ) {
    super(`backup ${prefix}: ${file}: ${problem}`);
  }
}

/** The key of a file of the backup under `prefix`. */
export function backupKey(prefix: string, file: string): string {
  return checkBackupKey(`${prefix}/${file}`);
}

export function dataFileOf(entity: string): string {
  return `data/${entity}.jsonl`;
}

/** A column as the export describes it and the restore casts it. */
export interface ColumnDescription {
  readonly name: string;
  /** The definition's type of the field (`id` is an integer, `created_at` and `updated_at` timestamps). */
  readonly type: FieldType;
  /** How the column is stored. */
  readonly sqlType: string;
  readonly required: boolean;
  /** Added by the platform to every entity (`id`, `created_at`, `updated_at`). */
  readonly platform: boolean;
  readonly values?: readonly string[];
  readonly entity?: string;
}

/** The columns of an entity's table, in the order backups keep them. */
export function entityColumns(entity: EntityDefinition): ColumnDescription[] {
  const timestamp = (name: string): ColumnDescription => ({ name, type: 'timestamp', sqlType: COLUMN_TYPES.timestamp, required: true, platform: true });
  return [
    { name: 'id', type: 'integer', sqlType: COLUMN_TYPES.integer, required: true, platform: true },
    ...entity.fields.map(
      (field): ColumnDescription => ({
        name: field.name,
        type: field.type,
        sqlType: COLUMN_TYPES[field.type],
        required: field.required,
        platform: false,
        ...(field.type === 'enum' ? { values: field.values } : {}),
        ...(field.type === 'reference' ? { entity: field.entity } : {}),
      }),
    ),
    timestamp('created_at'),
    timestamp('updated_at'),
  ];
}

/** A data file's text: one JSON object per row, each followed by `\n`. */
export function encodeRows(rows: readonly SqlRow[]): string {
  let text = '';
  for (const row of rows) text += `${JSON.stringify(row)}\n`;
  return text;
}

export function sha256Hex(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const count = z.number().int().nonnegative();

const entityBackupSchema = z.strictObject({
  entity: z.string().min(1),
  table: z.string().min(1),
  columns: z.array(z.string()),
  rows: count,
  bytes: count,
  sha256: z.string().regex(SHA256, 'must be a SHA-256 in hex'),
  file: z.string().min(1),
});

/** Reads a manifest back (a parsed JSON value): its shape, then the definition parsed again with every rule of a definition. */
export const backupManifestSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT, { error: (issue) => `is ${JSON.stringify(issue.input)}, not ${BACKUP_FORMAT}` }),
  backupId: z.string().regex(SEGMENT, 'must be 1-128 letters, digits, . _ -, not starting with a dot'),
  tenantId: z.string().min(1),
  createdAt: z.iso.datetime({ offset: true }),
  reason: z.string(),
  definition: z.unknown().transform((value, ctx): AppDefinition | null => {
    if (value === null) return null;
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is required (null if the tenant never deployed)' });
      return z.NEVER;
    }
    try {
      return parseAppDefinition(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof AppDefinitionError ? error.problems.join('; ') : errorMessage(error) });
      return z.NEVER;
    }
  }),
  fingerprint: z.string().regex(SHA256, 'must be a SHA-256 in hex').nullable(),
  entities: z.array(entityBackupSchema),
});

/**
 * Reads a manifest (its JSON text, or the parsed value) and checks it is consistent: the
 * definition matches its fingerprint, and the entities, their columns and files are exactly the
 * definition's. Throws a {@link BackupInvalidError} naming every problem.
 */
export function parseBackupManifest(prefix: string, json: string | unknown): BackupManifest {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json) as unknown;
    } catch (error) {
      throw new BackupInvalidError(prefix, MANIFEST_FILE, `is not JSON (${errorMessage(error)})`);
    }
  }
  const result = backupManifestSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${formatIssuePath(issue.path) || 'manifest'}: ${issue.message}`);
    throw new BackupInvalidError(prefix, MANIFEST_FILE, problems.join('; '));
  }
  const manifest = result.data as BackupManifest;
  const problems = consistencyProblems(manifest);
  if (problems.length > 0) throw new BackupInvalidError(prefix, MANIFEST_FILE, problems.join('; '));
  return manifest;
}

function consistencyProblems(manifest: BackupManifest): string[] {
  const { definition } = manifest;
  if (!definition) {
    return [
      ...(manifest.fingerprint === null ? [] : ['fingerprint: must be null without a definition']),
      ...(manifest.entities.length === 0 ? [] : ['entities: must be empty without a definition']),
    ];
  }
  const problems: string[] = [];
  if (manifest.fingerprint !== definitionFingerprint(definition)) problems.push('fingerprint: does not match the definition');
  const expected = definition.entities.map((entity) => entity.name);
  const found = manifest.entities.map((entity) => entity.entity);
  if (expected.join(',') !== found.join(',')) {
    problems.push(`entities: are ${JSON.stringify(found)}, the definition has ${JSON.stringify(expected)}`);
    return problems;
  }
  definition.entities.forEach((entity, i) => {
    const backup = manifest.entities[i]!;
    const columns = entityColumns(entity).map((column) => column.name);
    if (backup.columns.join(',') !== columns.join(',')) {
      problems.push(`entities[${i}].columns: are ${JSON.stringify(backup.columns)}, the definition gives ${JSON.stringify(columns)}`);
    }
    if (backup.file !== dataFileOf(entity.name)) problems.push(`entities[${i}].file: must be ${dataFileOf(entity.name)}`);
  });
  return problems;
}

/** A backup read whole and verified: the manifest, its definition, and each entity's rows. */
export interface VerifiedBackup {
  readonly prefix: string;
  readonly manifest: BackupManifest;
  readonly entities: readonly { readonly definition: EntityDefinition; readonly backup: EntityBackup; readonly rows: readonly SqlRow[] }[];
}

/** Reads and checks a backup's manifest; a backup without one is incomplete (or absent) and refused. */
export async function readManifest(store: BackupStorePort, prefix: string): Promise<BackupManifest> {
  const content = await store.read(backupKey(prefix, MANIFEST_FILE));
  if (!content) throw new BackupInvalidError(prefix, MANIFEST_FILE, 'is missing: the backup is incomplete or does not exist');
  return parseBackupManifest(prefix, content.toString('utf8'));
}

/**
 * Reads a whole backup and verifies it: the manifest, then every data file's size, SHA-256, row
 * count and rows (one JSON object per line with exactly the manifest's columns). Nothing of a
 * backup that fails is returned: the error names the file and what is wrong.
 */
export async function readBackup(store: BackupStorePort, prefix: string): Promise<VerifiedBackup> {
  const manifest = await readManifest(store, prefix);
  const entities: VerifiedBackup['entities'][number][] = [];
  const definitions = manifest.definition?.entities ?? [];
  for (const [i, backup] of manifest.entities.entries()) {
    const content = await store.read(backupKey(prefix, backup.file));
    const refuse = (problem: string) => new BackupInvalidError(prefix, backup.file, problem);
    if (!content) throw refuse('is missing: the backup is incomplete');
    if (content.length !== backup.bytes) throw refuse(`is ${content.length} bytes, the manifest says ${backup.bytes}: tampered with or incomplete`);
    if (sha256Hex(content) !== backup.sha256) throw refuse('does not match its SHA-256 in the manifest: tampered with or corrupted');
    entities.push({ definition: definitions[i]!, backup, rows: decodeRows(content.toString('utf8'), backup, refuse) });
  }
  return { prefix, manifest, entities };
}

function decodeRows(text: string, backup: EntityBackup, refuse: (problem: string) => Error): SqlRow[] {
  if (text !== '' && !text.endsWith('\n')) throw refuse('does not end with a line break: incomplete');
  const lines = text === '' ? [] : text.slice(0, -1).split('\n');
  if (lines.length !== backup.rows) throw refuse(`holds ${lines.length} rows, the manifest says ${backup.rows}`);
  const columns = new Set(backup.columns);
  return lines.map((line, i) => {
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw refuse(`line ${i + 1} is not JSON`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw refuse(`line ${i + 1} is not a JSON object`);
    const keys = Object.keys(row);
    if (keys.length !== columns.size || !keys.every((key) => columns.has(key))) {
      throw refuse(`line ${i + 1} has the columns ${JSON.stringify(keys)}, the manifest says ${JSON.stringify(backup.columns)}`);
    }
    for (const [key, value] of Object.entries(row)) {
      if (!isSqlValue(value)) throw refuse(`line ${i + 1}: ${key} is not a string, number, boolean or null`);
    }
    return row as SqlRow;
  });
}

function isSqlValue(value: unknown): value is SqlValue {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** A complete backup found in the store. */
export interface ListedBackup {
  readonly prefix: string;
  readonly manifest: BackupManifest;
}

/**
 * The backups under `under` that can be restored, by prefix: those with a manifest that reads
 * back. One still being written, or cut off, has no manifest yet and is not listed. Files are
 * verified when a backup is read ({@link readBackup}), not here.
 */
export async function listBackups(store: BackupStorePort, under: string): Promise<ListedBackup[]> {
  const suffix = `/${MANIFEST_FILE}`;
  const keys = (await store.list(under)).filter((key) => key.endsWith(suffix));
  const found: ListedBackup[] = [];
  for (const key of keys) {
    const prefix = key.slice(0, -suffix.length);
    try {
      found.push({ prefix, manifest: await readManifest(store, prefix) });
    } catch (error) {
      if (!(error instanceof BackupInvalidError)) throw error;
    }
  }
  return found;
}
