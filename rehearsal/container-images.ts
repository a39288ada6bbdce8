import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What the rehearsal runs for a container image it cannot build without Docker: the image's entrypoint bundle and its ENV. */
export interface ContainerImage {
  readonly dockerfile: string;
  /** The bundle the image's ENTRYPOINT runs (`node <file>`), built here by the Dockerfile's own esbuild command. */
  readonly entrypoint: string;
  /** The final stage's `ENV` lines. */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * Builds an image's entrypoint the way its Dockerfile does, without Docker: the `RUN npx --no-install
 * esbuild …` line of the build stage is run from the repository root with its `--outfile` moved to
 * `outDir`, so a flag changed in the Dockerfile is a flag changed here. The final stage's ENV is read too.
 */
export async function buildContainerImage(repositoryRoot: string, dockerfile: string, outDir: string): Promise<ContainerImage> {
  const text = await readFile(join(repositoryRoot, dockerfile), 'utf8');
  const logical = text.replace(/\\\n\s*/g, ' ');
  const command = /^RUN\s+npx --no-install esbuild\s+(.+)$/m.exec(logical)?.[1];
  if (!command) throw new Error(`${dockerfile}: no "RUN npx --no-install esbuild …" line to build the entrypoint with`);
  const args = shellWords(command);
  const outfileIndex = args.findIndex((arg) => arg.startsWith('--outfile='));
  if (outfileIndex < 0) throw new Error(`${dockerfile}: the esbuild command has no --outfile`);
  const entrypoint = join(outDir, args[outfileIndex]!.slice('--outfile='.length).split('/').pop()!);
  args[outfileIndex] = `--outfile=${entrypoint}`;
  await run(join(repositoryRoot, 'node_modules', '.bin', 'esbuild'), args, { cwd: repositoryRoot });
  const finalStage = logical.slice(logical.lastIndexOf('\nFROM '));
  const environment: Record<string, string> = {};
  for (const [, assignments] of finalStage.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const word of shellWords(assignments!)) {
      const [name, ...value] = word.split('=');
      if (name && value.length) environment[name] = value.join('=');
    }
  }
  return { dockerfile, entrypoint, environment };
}

/** Splits a shell command line into words: double-quoted words keep their spaces. */
function shellWords(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map(([, quoted, bare]) => (quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!));
}
