/**
 * `status.json` beside `current`: what became of the release the pointer last named, so that the
 * deploy state machine's AwaitHealthy step can tell success from failure (and roll back).
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

export const STATUS_FILE = 'status.json';

export const releaseStatusSchema = z.object({
  releaseId: z.string(),
  state: z.enum(['healthy', 'failed']),
  /** Why it failed (absent when healthy). */
  reason: z.string().optional(),
  /** ISO 8601. */
  time: z.string(),
  /** The process serving it, when healthy. */
  pid: z.number().int().optional(),
});

export type ReleaseStatus = z.infer<typeof releaseStatusSchema>;

/** Writes the status atomically (write a temporary file, then rename over). */
export async function writeReleaseStatus(appDir: string, status: ReleaseStatus): Promise<void> {
  const target = join(appDir, STATUS_FILE);
  const temporary = join(appDir, `.${STATUS_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, `${JSON.stringify(status, null, 2)}\n`, { mode: 0o644 });
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The status, or undefined when there is none yet. */
export async function readReleaseStatus(appDir: string): Promise<ReleaseStatus | undefined> {
  let text: string;
  try {
    text = await readFile(join(appDir, STATUS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return releaseStatusSchema.parse(JSON.parse(text));
}
