import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { errorText, fmt } from './format.js';

/** Undoes one thing; resolves with a note for the cleanup line, or `null` when there was nothing to undo (no line). */
export type UndoWork = () => Promise<string | void | null>;

export interface UndoStep {
  readonly what: string;
  readonly work: UndoWork;
}

/**
 * Everything a run made, each registered with how to undo it as it is made, undone in reverse
 * order: at the end, on failure and from a signal handler. A failed step is reported and does not
 * stop the others.
 */
export class Cleanup {
  private readonly steps: UndoStep[] = [];
  private running: Promise<void> | undefined;

  add(what: string, work: UndoWork): UndoStep {
    const step = { what, work };
    this.steps.push(step);
    return step;
  }

  /** Forgets a step that the run has undone itself. */
  remove(step: UndoStep): void {
    const index = this.steps.indexOf(step);
    if (index >= 0) this.steps.splice(index, 1);
  }

  /** Where the steps registered from now on start, for {@link undoSince}. */
  get mark(): number {
    return this.steps.length;
  }

  /** Undoes what was registered since `mark` (the end of one part of a run), leaving the rest. */
  async undoSince(mark: number): Promise<void> {
    for (const step of this.steps.splice(mark).reverse()) await undoStep(step);
  }

  /** Undoes everything; safe to call more than once and from a signal handler. */
  run(): Promise<void> {
    this.running ??= (async () => {
      if (!this.steps.length) return;
      console.log('Cleaning up…');
      for (const step of this.steps.splice(0).reverse()) await undoStep(step);
    })();
    return this.running;
  }

  /** {@link run}, then how long it took. */
  async runTimed(): Promise<void> {
    const started = performance.now();
    await this.run();
    console.log(`Cleanup took ${fmt((performance.now() - started) / 1000, 1)} s.`);
  }
}

async function undoStep({ what, work }: UndoStep): Promise<void> {
  try {
    const note = await work();
    if (note !== null) console.log(`  cleanup: ${what}${note ? ` — ${note}` : ''}`);
  } catch (error) {
    console.error(`  cleanup: ${what} FAILED — ${errorText(error)}`);
  }
}

/**
 * A fresh `<tmpdir>/hostplane-<name>-XXXXXX`, removed by `cleanup`, readable by the `postgres`
 * user (as root, an embedded PostgreSQL runs as that user and must reach its folder).
 */
export async function tempFolder(cleanup: Cleanup, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `hostplane-${name}-`));
  cleanup.add(`removed ${dir}`, () => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  return dir;
}
