/** Memory of processes and process trees, from Linux's /proc (elsewhere: nothing measured). */
import { readdir, readFile } from 'node:fs/promises';

export const kibToMib = (kib: number): number => kib / 1024;

/** A `<field>: N kB` line of /proc/<pid>/status (VmRSS, …). */
export async function procStatusKib(pid: number, field: string): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Proportional set size: shared pages split among the processes sharing them. */
export async function pssKib(pid: number): Promise<number | undefined> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB$/m.exec(rollup);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Every process's children, read once from /proc. */
export async function childrenByPid(): Promise<Map<number, number[]>> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = await readFile(`/proc/${entry}/status`, 'utf8');
      const match = /^PPid:\s+(\d+)$/m.exec(status);
      if (!match) continue;
      const parent = Number(match[1]);
      const list = children.get(parent) ?? [];
      list.push(Number(entry));
      children.set(parent, list);
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

/** `root` and all its descendants. */
export function processTree(root: number, children: ReadonlyMap<number, readonly number[]>): number[] {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

export interface TreeMemory {
  /** How many of the pids still had a /proc entry. */
  readonly processes: number;
  readonly rssKib: number;
  /** Undefined when any process's PSS could not be read. */
  readonly pssKib: number | undefined;
}

/** RSS and PSS summed over `pids`. */
export async function treeMemory(pids: readonly number[]): Promise<TreeMemory> {
  let rss = 0;
  let pss: number | undefined = 0;
  let processes = 0;
  for (const pid of pids) {
    const r = await procStatusKib(pid, 'VmRSS');
    if (r === undefined) continue;
    processes++;
    rss += r;
    const p = await pssKib(pid);
    pss = p === undefined || pss === undefined ? undefined : pss + p;
  }
  return { processes, rssKib: rss, pssKib: pss };
}
