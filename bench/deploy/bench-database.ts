import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../local/embedded-database.js';
import { tempFolder, type Cleanup } from '../support/cleanup.js';
import { fmt } from '../support/format.js';
import { now } from '../support/time.js';
import type { BenchOptions } from './options.js';

/** The PostgreSQL both parts use: the one given, or one embedded PostgreSQL for the whole run. */
export interface BenchDatabase {
  /** Admin login. */
  readonly adminUrl: string;
  readonly embedded: boolean;
}

/**
 * Starts the embedded PostgreSQL once per run (a second `startEmbeddedDatabase` in the same
 * process fails in async-exit-hook's `unhookEvent`). The control plane gets it as its database
 * URL, so both parts share it.
 */
export async function startBenchDatabase(cleanup: Cleanup, options: BenchOptions): Promise<BenchDatabase> {
  if (options.databaseUrl) return { adminUrl: options.databaseUrl, embedded: false };
  const started = now();
  const dir = await tempFolder(cleanup, 'deploy-bench-pg');
  const holder: { embedded?: Promise<EmbeddedDatabase> } = {};
  cleanup.add('stopped the embedded PostgreSQL', async () => (await holder.embedded?.catch(() => undefined))?.stop());
  holder.embedded = startEmbeddedDatabase(dir, options.verbose ? (line) => console.log(`    [postgres] ${line}`) : undefined);
  const embedded = await holder.embedded;
  console.log(`  embedded PostgreSQL up in ${fmt(now() - started)} ms (${dir}, shared by both parts)`);
  return { adminUrl: embedded.connectionString, embedded: true };
}
