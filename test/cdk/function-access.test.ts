import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FUNCTIONS, type FunctionName } from '../../lambdas/functions.js';
import { FUNCTION_ACCESS, runsInVpc, type AccessKind } from '../../lib/function-access.js';
import { REPOSITORY_ROOT } from '../../lib/hostplane-function.js';

/** Ports that need no grant of their own: the registry (every function has it) and the config. */
const ALWAYS_THERE = new Set(['sql', 'config']);

/** The ports a handler names: `ports().x` and `const { x, y } = ports()`; `all` when it hands `ports()` on whole. */
function portsNamedBy(source: string): Set<string> | 'all' {
  const named = new Set<string>();
  for (const [, name] of source.matchAll(/ports\(\)\.(\w+)/g)) named.add(name!);
  for (const [, list] of source.matchAll(/const \{([^}]*)\} = ports\(\)/g)) {
    for (const part of list!.split(',')) named.add(part.split(':')[0]!.trim());
  }
  const wholeUses = source.match(/ports\(\)(?![.\w])/g)?.length ?? 0;
  const destructured = source.match(/\} = ports\(\)/g)?.length ?? 0;
  return wholeUses > destructured ? 'all' : named;
}

describe('FUNCTION_ACCESS', () => {
  it('grants every function each port its handler takes from ports()', () => {
    const missing: string[] = [];
    for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
      const used = portsNamedBy(readFileSync(join(REPOSITORY_ROOT, FUNCTIONS[name]), 'utf8'));
      if (used === 'all') continue;
      for (const port of used) {
        if (!ALWAYS_THERE.has(port) && !FUNCTION_ACCESS[name].includes(port as AccessKind)) missing.push(`${name} uses ${port}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('places in the VPC exactly the functions that mount EFS, publish on the cache or open a pg connection', () => {
    expect(runsInVpc(FUNCTION_ACCESS.Publish)).toBe(true);
    expect(runsInVpc(FUNCTION_ACCESS.CreateTenantDatabase)).toBe(true);
    expect(runsInVpc(FUNCTION_ACCESS.ListTenants)).toBe(false);
    expect(runsInVpc(FUNCTION_ACCESS.CreateTenant)).toBe(false);
  });
});
