import { readFileSync } from 'node:fs';
import { posix } from 'node:path';

/** What package-lock.json (lockfileVersion 2 or 3) says of one installed package. */
interface LockedPackage {
  readonly version?: string;
  readonly dev?: boolean;
  readonly link?: boolean;
  readonly hasInstallScript?: boolean;
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
}

interface Lockfile {
  readonly lockfileVersion?: number;
  readonly packages?: Readonly<Record<string, LockedPackage>>;
}

/**
 * The folders (`node_modules/pg`, `node_modules/a/node_modules/b`, …) that `roots` need at run time,
 * as package-lock.json installed them: each root, then what each one depends on, found the way Node
 * resolves it (the nearest `node_modules` up the tree). Optional and peer dependencies count when they
 * are installed. Sorted, so a folder comes before the ones nested in it.
 *
 * Only portable packages are allowed: one with an install script, or built for some `os`/`cpu`, is
 * refused, because the folders are copied as they are on this machine into a function that may run
 * on another CPU.
 */
export function nodeModulesClosure(lockfilePath: string, roots: readonly string[]): string[] {
  const lockfile = JSON.parse(readFileSync(lockfilePath, 'utf8')) as Lockfile;
  const packages = lockfile.packages;
  if (!packages || (lockfile.lockfileVersion ?? 0) < 2) throw new Error(`${lockfilePath} has no "packages" map (lockfileVersion 2 or later is needed)`);

  const found = new Set<string>();
  const visit = (folder: string) => {
    if (found.has(folder)) return;
    const locked = packages[folder]!;
    if (locked.link) throw new Error(`${folder} is a link in ${lockfilePath}; only installed packages can be shipped`);
    if (locked.dev) throw new Error(`${folder} is a devDependency in ${lockfilePath}; a function ships only production packages`);
    if (locked.hasInstallScript || locked.os || locked.cpu) {
      throw new Error(`${folder} is built for this machine (install script, os or cpu in ${lockfilePath}); it cannot be shipped to another CPU`);
    }
    found.add(folder);
    const wanted: [name: string, required: boolean][] = [
      ...Object.keys(locked.dependencies ?? {}).map((name): [string, boolean] => [name, true]),
      ...Object.keys(locked.optionalDependencies ?? {}).map((name): [string, boolean] => [name, false]),
      ...Object.keys(locked.peerDependencies ?? {}).map((name): [string, boolean] => [name, false]),
    ];
    for (const [name, required] of wanted) {
      const resolved = resolveFrom(packages, folder, name);
      if (resolved) visit(resolved);
      else if (required) throw new Error(`${name}, a dependency of ${folder}, is not installed in ${lockfilePath}`);
    }
  };
  for (const root of roots) {
    const folder = `node_modules/${root}`;
    if (!packages[folder]) throw new Error(`${root} is not installed at the top of ${lockfilePath}`);
    visit(folder);
  }
  return [...found].sort();
}

/** Where Node finds `name` when `folder`'s code requires it: `folder/node_modules/name`, then each enclosing `node_modules`. */
function resolveFrom(packages: Readonly<Record<string, LockedPackage>>, folder: string, name: string): string | undefined {
  let base = folder;
  for (;;) {
    const candidate = posix.join(base, 'node_modules', name);
    if (packages[candidate]) return candidate;
    const enclosing = base.lastIndexOf('/node_modules/');
    if (enclosing < 0) return packages[`node_modules/${name}`] ? `node_modules/${name}` : undefined;
    base = base.slice(0, enclosing);
  }
}
