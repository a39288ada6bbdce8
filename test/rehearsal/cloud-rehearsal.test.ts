import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';

/**
 * `npm run rehearse` as CI runs it: the app synthesized, deployed into the stand-in account and two
 * tenants driven through their whole lifecycle by the bundled functions. The rehearsal is its own
 * process (it starts moto, a TLS PostgreSQL and a TLS Redis, sandboxes and tasks, and stops them
 * all); this test holds it to a deadline and shows its report when it fails.
 */
const DEADLINE_MS = 20 * 60_000;

function runRehearsal(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npx', ['tsx', 'rehearsal/rehearse.ts', '--tenants', '2'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += `\n[test] the rehearsal did not finish within ${DEADLINE_MS / 60_000} minutes: stopped\n`;
      // SIGTERM lets it stop its servers; whatever is left of its process group goes a minute later.
      process.kill(-child.pid!, 'SIGTERM');
      setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000).unref();
    }, DEADLINE_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the cloud rehearsal', () => {
  it(
    'drives two tenants through provision, deploy, redeploy, backup, restore and deprovision on the synthesized artifacts',
    async () => {
      const { code, output } = await runRehearsal();
      const failed = output.split('\n').filter((line) => line.includes('✗'));
      expect({ code, failed, tail: code === 0 ? '' : output.slice(-6000) }).toEqual({ code: 0, failed: [], tail: '' });
      expect(output).toContain('rehearsal passed');
      // The report names each state's time and the cold starts' imports.
      expect(output).toMatch(/states \(runs, p50, max, errors\):/);
      expect(output).toMatch(/cold starts: \d+ \(import p50 \d+ ms/);
    },
    DEADLINE_MS + 60_000,
  );
});
