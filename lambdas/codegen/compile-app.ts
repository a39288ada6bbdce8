import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, posix } from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as Esbuild from 'esbuild';
import { PermanentError } from '../domain/errors.js';
import { PUBLIC_FOLDER, type GeneratedApp } from './generate-app.js';

/**
 * Compile: the generated backend bundled by esbuild into one self-contained `server.mjs`
 * (pg and ioredis inside it), plus the front end's files as they are. The release folder then
 * needs nothing but Node 20.
 *
 * Which esbuild: the native `esbuild` package where it is installed (the local world, fast), else
 * `esbuild-wasm`, the same version compiled to WebAssembly, which runs on any CPU: the Compile
 * Lambda ships only that one (with pg and ioredis) as files in its `node_modules`.
 *
 * Reproducible: the same generated app (and the same installed pg and ioredis) gives the same
 * bytes, with either esbuild. The sources are fed to esbuild from memory, its working directory
 * is the folder whose `node_modules` holds the dependencies (so the path comments it writes are relative, like
 * `// node_modules/pg/lib/client.js`), there is no source map, no metafile, nothing dated.
 * The release id is a digest of every output file's path and bytes.
 */

export interface CompiledApp {
  /** The first 16 hex characters of the sha256 over the files (sorted paths, each with its bytes). */
  readonly releaseId: string;
  /** `server.mjs` and `public/…`, in sorted order: what a release folder holds. */
  readonly files: Readonly<Record<string, string | Uint8Array>>;
  readonly stats: {
    readonly bundleBytes: number;
    readonly totalBytes: number;
    /** Wall time of the esbuild call (not part of the release). */
    readonly buildMs: number;
  };
}

export interface CompileOptions {
  /**
   * A folder whose `node_modules` (or an ancestor's) holds `pg` and `ioredis`: they are bundled
   * from there. Defaults to the folder whose `node_modules` holds the `pg` this module resolves
   * (in the Compile Lambda, `/var/task`: pg and ioredis ship there as files, see lib/README.md).
   */
  readonly dependenciesDir?: string;
  /**
   * The esbuild package that compiles. Both give the same bytes (same version, the lockfile pins both).
   * @default - `esbuild` where it is installed, else `esbuild-wasm`
   */
  readonly esbuild?: EsbuildPackage;
}

/** The native esbuild (a binary per os/cpu) or the same version in WebAssembly (one package for every CPU). */
export type EsbuildPackage = 'esbuild' | 'esbuild-wasm';
type EsbuildApi = Pick<typeof Esbuild, 'build'>;

export const SERVER_FILE = 'server.mjs';

/**
 * Optional peers of the bundled packages, which they `require` inside a try: pg's native binding
 * (only loaded when asked for, `pg.native`, never here) and debug's (ioredis's) `supports-color`.
 * Left out, so the bytes do not depend on what else is installed beside pg and ioredis (jest brings
 * `supports-color` into the repository; the Compile Lambda ships only the lockfile closure of pg and ioredis).
 */
const OPTIONAL_PEERS = ['pg-native', 'supports-color'] as const;
const NAMESPACE = 'hostplane-app';

/**
 * CommonJS dependencies bundled into an ES module still call `require` (for Node built-ins)
 * and may read `__dirname`: give them both. Evaluated at run time, so no path is in the bytes.
 */
const BANNER = [
  "import { createRequire as __hostplaneCreateRequire } from 'node:module';",
  "import { fileURLToPath as __hostplaneFileURLToPath } from 'node:url';",
  "import { dirname as __hostplaneDirname } from 'node:path';",
  'const require = __hostplaneCreateRequire(import.meta.url);',
  'const __filename = __hostplaneFileURLToPath(import.meta.url);',
  'const __dirname = __hostplaneDirname(__filename);',
].join('\n');

/** The folder that holds the `node_modules` where `pg` resolves from this module. */
function defaultDependenciesDir(): string {
  const pgPackage = createRequire(import.meta.url).resolve('pg/package.json');
  let dir = dirname(pgPackage);
  while (basename(dir) !== 'node_modules') {
    const parent = dirname(dir);
    if (parent === dir) throw new PermanentError(`cannot find the node_modules folder that holds ${pgPackage}`);
    dir = parent;
  }
  return dirname(dir);
}

const loaded = new Map<EsbuildPackage, Promise<EsbuildApi>>();

/**
 * The esbuild API of `name`, imported once. The specifier is a variable so that a bundler leaves the
 * import alone: esbuild's API cannot be bundled (it finds its binary, or its .wasm, beside its own files).
 */
function importEsbuild(name: EsbuildPackage): Promise<EsbuildApi> {
  let api = loaded.get(name);
  if (!api) {
    const specifier: string = name;
    api = import(specifier) as Promise<EsbuildApi>;
    loaded.set(name, api);
    api.catch(() => loaded.delete(name));
  }
  return api;
}

/** The native esbuild where it is installed, else esbuild-wasm; a failure names both. */
async function esbuildApi(wanted: EsbuildPackage | undefined): Promise<EsbuildApi> {
  if (wanted) return importEsbuild(wanted);
  try {
    return await importEsbuild('esbuild');
  } catch (nativeError) {
    try {
      return await importEsbuild('esbuild-wasm');
    } catch (wasmError) {
      throw new PermanentError(`neither esbuild (${String(nativeError)}) nor esbuild-wasm (${String(wasmError)}) can be imported`);
    }
  }
}

/** Serves the generated sources to esbuild from memory; bare imports resolve from `resolveDir`. */
function generatedSources(files: Readonly<Record<string, string>>, resolveDir: string): Esbuild.Plugin {
  const has = (path: string) => Object.hasOwn(files, path);
  return {
    name: 'hostplane-generated-sources',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return has(args.path) ? { path: args.path, namespace: NAMESPACE } : undefined;
        if (args.namespace !== NAMESPACE || !/^\.\.?\//.test(args.path)) return undefined;
        const joined = posix.normalize(posix.join(posix.dirname(args.importer), args.path));
        // TypeScript's ESM convention: `./http.js` names `./http.ts`.
        for (const candidate of [joined, joined.replace(/\.js$/, '.ts')]) {
          if (has(candidate)) return { path: candidate, namespace: NAMESPACE };
        }
        return { errors: [{ text: `${args.path} (from ${args.importer}) is not among the generated files` }] };
      });
      pluginBuild.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: files[args.path] ?? '',
        loader: args.path.endsWith('.ts') ? 'ts' : 'js',
        resolveDir,
      }));
    },
  };
}

function formatMessages(messages: readonly Esbuild.Message[]): string {
  return messages
    .slice(0, 5)
    .map((message) => (message.location ? `${message.location.file}:${message.location.line}: ${message.text}` : message.text))
    .join('; ');
}

/** The release id: sha256 over each file's path and bytes, in sorted path order; 16 hex characters. */
export function releaseIdOf(files: Readonly<Record<string, string | Uint8Array>>): string {
  const hash = createHash('sha256');
  for (const path of Object.keys(files).sort()) {
    const content = files[path]!;
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    hash.update(`${path}\0${bytes.byteLength}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex').slice(0, 16);
}

export async function compileApp(generated: GeneratedApp, options: CompileOptions = {}): Promise<CompiledApp> {
  const dependenciesDir = options.dependenciesDir ?? defaultDependenciesDir();
  if (!existsSync(dependenciesDir)) throw new PermanentError(`the dependencies folder ${dependenciesDir} does not exist`);
  if (!Object.hasOwn(generated.files, generated.entry)) throw new PermanentError(`the entry ${generated.entry} is not among the generated files`);

  const { build } = await esbuildApi(options.esbuild);
  const started = performance.now();
  let bundle: Uint8Array;
  try {
    const result = await build({
      entryPoints: [generated.entry],
      absWorkingDir: dependenciesDir,
      plugins: [generatedSources(generated.files, dependenciesDir)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: SERVER_FILE,
      write: false,
      banner: { js: BANNER },
      sourcemap: false,
      // Licence comments of the bundled packages, gathered at the end of the file (deterministic).
      legalComments: 'eof',
      external: [...OPTIONAL_PEERS],
      logLevel: 'silent',
    });
    const output = result.outputFiles.find((file) => file.path.endsWith(SERVER_FILE));
    if (!output || result.outputFiles.length !== 1) throw new Error(`esbuild wrote ${result.outputFiles.length} files`);
    bundle = output.contents;
  } catch (error) {
    const failure = error as { errors?: Esbuild.Message[]; message?: string };
    const detail = failure.errors?.length ? formatMessages(failure.errors) : String(failure.message ?? error);
    throw new PermanentError(`cannot compile ${JSON.stringify(generated.app)}: ${detail}`);
  }
  const buildMs = performance.now() - started;

  const unsorted: Record<string, string | Uint8Array> = { [SERVER_FILE]: bundle };
  for (const [path, content] of Object.entries(generated.files)) {
    if (path.startsWith(PUBLIC_FOLDER)) unsorted[path] = content;
  }
  const files: Record<string, string | Uint8Array> = {};
  for (const path of Object.keys(unsorted).sort()) files[path] = unsorted[path]!;
  const totalBytes = Object.values(files).reduce((sum, content) => sum + (typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength), 0);

  return { releaseId: releaseIdOf(files), files, stats: { bundleBytes: bundle.byteLength, totalBytes, buildMs } };
}
