/**
 * `hostplane deploy`, `deploy --watch`, `deployments list|rollback`: the real CLI as a child
 * process, against a fake control-plane API on loopback (test/cli/support/fake-control-plane.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { pollUntil } from '../support/poll.js';
import { DEPLOY_STATES, startFakeControlPlane, type FakeControlPlane } from './support/fake-control-plane.js';

const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

const children: Running[] = [];

function hostplane(args: readonly string[]): Running {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.HOSTPLANE_API_URL;
  const child = spawn(process.execPath, ['bin/hostplane.js', ...args], { cwd: repositoryRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const running = { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exited };
  children.push(running);
  return running;
}

/** Replaces the file as many editors save: a new file renamed over the old one (never half-written). */
async function save(path: string, content: unknown): Promise<void> {
  const temporary = `${path}.${process.hrtime.bigint()}.tmp`;
  await writeFile(temporary, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  await rename(temporary, path);
}

function bookshop(name = 'Bookshop', extraField?: Record<string, unknown>) {
  return {
    name,
    entities: [
      { name: 'book', fields: [{ name: 'title', type: 'string', required: true }, { name: 'pages', type: 'integer' }, ...(extraField ? [extraField] : [])] },
      { name: 'review', fields: [{ name: 'stars', type: 'integer' }] },
    ],
  };
}

const count = (text: string, fragment: string) => text.split(fragment).length - 1;

describe('hostplane deploy and deployments', () => {
  let api: FakeControlPlane;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostplane-cli-'));
  });

  beforeEach(async () => {
    api = await startFakeControlPlane(['acme']);
  });

  afterEach(async () => {
    for (const running of children.splice(0)) {
      if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
      await running.exited;
    }
    await api.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('deploy', () => {
    it('prints each state, the migrations, and the release the tenant now serves', async () => {
      const file = join(dir, 'bookshop.json');
      await save(file, bookshop());

      const run = hostplane(['deploy', 'acme', file, '--idempotency-key', 'k-1', '--api', api.url]);

      expect(await run.exited).toBe(0);
      const out = run.stdout();
      expect(out).toMatch(/^deploying Bookshop to acme \(deployment dep-[0-9a-f-]+, operation op-[0-9a-f-]+\)$/m);
      for (const state of DEPLOY_STATES) expect(out).toMatch(new RegExp(`^  ✓ ${state} \\(\\d+ ms\\)$`, 'm'));
      expect(out).toContain('  migration: create table book');
      const release = api.deployments('acme')[0]!.releaseId!;
      expect(out.trimEnd().split('\n').at(-1)).toBe(`acme now serves release ${release.slice(0, 12)}… (Bookshop) at http://acme.localhost:7780/`);
      expect(api.posted).toEqual([{ definition: bookshop(), allowDestructive: undefined, idempotencyKey: 'k-1' }]);
      expect(run.stderr()).toBe('');
    });

    it('prints every problem of a refused definition on its own line and exits 1', async () => {
      const file = join(dir, 'typos.json');
      await save(file, { name: 'Bookshop', entities: [{ name: 'book', fields: [{ name: 'title', type: 'strng' }] }, { name: 'review', fields: [{ name: 'stars', type: 'int' }] }] });

      const run = hostplane(['deploy', 'acme', file, '--api', api.url]);

      expect(await run.exited).toBe(1);
      expect(run.stderr().trimEnd().split('\n')).toEqual([
        'hostplane: cannot deploy to acme: the app definition has 2 problems:',
        '  entities[0].fields[0].type: unknown type "strng"',
        '  entities[1].fields[0].type: unknown type "int"',
      ]);
      expect(run.stdout()).toBe('');
    });

    it('lists the changes that would destroy data, and applies them with --allow-destructive', async () => {
      const file = join(dir, 'drop.json');
      await save(file, bookshop('Bookshop', { name: 'pages_old', type: 'integer', drop: true }));

      const refused = hostplane(['deploy', 'acme', file, '--api', api.url]);
      expect(await refused.exited).toBe(1);
      expect(refused.stderr().trimEnd().split('\n')).toEqual([
        'hostplane: cannot deploy to acme: 1 change would destroy data (deploy again with --allow-destructive to apply it):',
        '  book.pages_old: dropping the column loses its data',
      ]);

      const allowed = hostplane(['deploy', 'acme', file, '--allow-destructive', '--api', api.url]);
      expect(await allowed.exited).toBe(0);
      expect(api.posted.at(-1)?.allowDestructive).toBe(true);
    });

    it('exits with one line when the file is missing, and sends nothing', async () => {
      const run = hostplane(['deploy', 'acme', join(dir, 'nowhere.json'), '--api', api.url]);

      expect(await run.exited).toBe(1);
      expect(run.output()).toBe(`hostplane: cannot read ${join(dir, 'nowhere.json')}: no such file\n`);
      expect(api.posted).toHaveLength(0);
    });

    it('names the line and column of a file that is not JSON', async () => {
      const file = join(dir, 'broken.json');
      await save(file, '{\n  "name": "Bookshop",\n  "entities": [\n}\n');

      const run = hostplane(['deploy', 'acme', file, '--api', api.url]);

      expect(await run.exited).toBe(1);
      expect(run.output()).toBe(`hostplane: ${file} is not JSON: expected a value, found "}" (line 4, column 1)\n`);
    });

    it('reports a failed deploy with its reason and the release it rolled back to, and exits 1', async () => {
      const first = join(dir, 'first.json');
      await save(first, bookshop());
      expect(await hostplane(['deploy', 'acme', first, '--api', api.url]).exited).toBe(0);
      const previous = api.deployments('acme')[0]!.releaseId!;
      const file = join(dir, 'unhealthy.json');
      await save(file, bookshop('Unhealthy'));

      const run = hostplane(['deploy', 'acme', file, '--api', api.url]);

      expect(await run.exited).toBe(1);
      expect(run.stdout()).toMatch(/^ {2}✗ AwaitHealthy \(\d+ ms\) {2}release did not answer its health check within 10 s$/m);
      expect(run.stdout()).toMatch(/^ {2}✓ RollBack /m);
      const failed = api.deployments('acme')[0]!;
      expect(run.stderr()).toBe(
        `hostplane: deploy ${failed.deploymentId} of Unhealthy to acme failed: ${failed.error}; rolled back to ${previous}\n`,
      );
    });

    it('returns at once with --no-wait', async () => {
      const file = join(dir, 'nowait.json');
      await save(file, bookshop());

      const run = hostplane(['deploy', 'acme', file, '--no-wait', '--api', api.url]);

      expect(await run.exited).toBe(0);
      expect(run.stdout()).toMatch(/^follow it with `npx hostplane operations show op-[0-9a-f-]+`$/m);
      expect(run.stdout()).not.toContain('✓');
    });

    it('says the tenant is unknown', async () => {
      const file = join(dir, 'ghost.json');
      await save(file, bookshop());

      const run = hostplane(['deploy', 'ghost', file, '--api', api.url]);

      expect(await run.exited).toBe(1);
      expect(run.output()).toBe('hostplane: cannot deploy to ghost: no tenant ghost\n');
    });

    it('exits 2 on bad usage', async () => {
      expect(await hostplane(['deploy', 'acme', '--api', api.url]).exited).toBe(2);
      const both = hostplane(['deploy', 'acme', join(dir, 'x.json'), '--watch', '--no-wait', '--api', api.url]);
      expect(await both.exited).toBe(2);
      expect(both.output()).toBe('hostplane: --watch follows every deploy: it cannot go with --no-wait\n');
      expect(await hostplane(['deployments', 'list', '--api', api.url]).exited).toBe(2);
    });
  });

  describe('deploy --watch', () => {
    it('redeploys on each change, survives invalid edits, deploys only the latest change made during a deploy, and stops on Ctrl-C', async () => {
      const file = join(dir, 'watched.json');
      await save(file, bookshop('Bookshop'));
      const run = hostplane(['deploy', 'acme', file, '--watch', '--api', api.url]);
      const served = () => count(run.stdout(), 'acme now serves release');

      await pollUntil(() => (run.stdout().includes(`watching ${file}`) && served() === 1 ? true : undefined), {
        what: `the first deploy; output:\n${run.output()}`,
      });

      // An edit that is not JSON: said, with where, and nothing is sent.
      await save(file, '{ "name": "Bookshop", }');
      await pollUntil(() => (run.stderr().includes(`✗ ${file} is not JSON: a comma before '}'`) ? true : undefined), { what: 'the JSON error' });
      expect(api.posted).toHaveLength(1);

      // An edit the API refuses: every problem, then watching goes on.
      await save(file, { name: 'Bookshop', entities: [{ name: 'book', fields: [{ name: 'title', type: 'strng' }] }] });
      await pollUntil(() => (run.stderr().includes('  entities[0].fields[0].type: unknown type "strng"') ? true : undefined), { what: 'the problems' });

      // A good edit deploys.
      await save(file, bookshop('Bookshop', { name: 'isbn', type: 'string' }));
      await pollUntil(() => (served() === 2 ? true : undefined), { what: `the second deploy; output:\n${run.output()}` });
      expect(api.posted).toHaveLength(3);

      // Changes while a deploy runs wait for it, and only the latest is deployed.
      const queuedLine = 'changed: the latest content deploys once this deploy ends';
      await save(file, bookshop('Slow'));
      await pollUntil(() => (api.holding() ? true : undefined), { what: 'the slow deploy to hold' });
      await save(file, bookshop('Intermediate'));
      await pollUntil(() => (count(run.stdout(), queuedLine) === 1 ? true : undefined), { what: 'the first change during the deploy' });
      await save(file, bookshop('Latest', { name: 'isbn', type: 'string' }));
      await pollUntil(() => (count(run.stdout(), queuedLine) === 2 ? true : undefined), { what: 'the second change during the deploy' });
      expect(api.posted).toHaveLength(4);
      api.releaseHeld();
      await pollUntil(() => (served() === 4 ? true : undefined), { what: `the latest deploy; output:\n${run.output()}` });
      expect(api.posted.map((post) => post.definition.name)).toEqual(['Bookshop', 'Bookshop', 'Bookshop', 'Slow', 'Latest']);

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(run.stdout()).toContain(`SIGINT: stopped watching ${file}`);
    });
  });

  describe('deployments', () => {
    it('lists deployments newest first, with the error shortened, and as JSON', async () => {
      const good = join(dir, 'list-good.json');
      const bad = join(dir, 'list-bad.json');
      await save(good, bookshop());
      await save(bad, bookshop('Unhealthy'));
      expect(await hostplane(['deploy', 'acme', good, '--api', api.url]).exited).toBe(0);
      expect(await hostplane(['deploy', 'acme', bad, '--api', api.url]).exited).toBe(1);
      const [failed, succeeded] = api.deployments('acme');

      const run = hostplane(['deployments', 'list', 'acme', '--api', api.url]);

      expect(await run.exited).toBe(0);
      const lines = run.stdout().trimEnd().split('\n');
      expect(lines[0]).toMatch(/^DEPLOYMENT\s+KIND\s+STATUS\s+RELEASE\s+APP\s+STARTED\s+ERROR$/);
      expect(lines[1]).toMatch(new RegExp(`^${failed!.deploymentId}\\s+deploy\\s+FAILED \\(rolled back\\)\\s+-\\s+Unhealthy\\s+\\S+ \\S+\\s+release \\w+ did not`));
      expect(lines[2]).toMatch(new RegExp(`^${succeeded!.deploymentId}\\s+deploy\\s+SUCCEEDED\\s+${succeeded!.releaseId!.slice(0, 12)}…\\s+Bookshop\\s+\\S+ \\S+$`));

      const json = hostplane(['deployments', 'list', 'acme', '--json', '--api', api.url]);
      expect(await json.exited).toBe(0);
      expect((JSON.parse(json.stdout()) as { deploymentId: string }[]).map((d) => d.deploymentId)).toEqual([failed!.deploymentId, succeeded!.deploymentId]);
    });

    it('rolls a deployment back and follows it', async () => {
      const v1 = join(dir, 'v1.json');
      const v2 = join(dir, 'v2.json');
      await save(v1, bookshop());
      await save(v2, bookshop('Bookshop', { name: 'isbn', type: 'string' }));
      expect(await hostplane(['deploy', 'acme', v1, '--api', api.url]).exited).toBe(0);
      expect(await hostplane(['deploy', 'acme', v2, '--api', api.url]).exited).toBe(0);
      const [second, first] = api.deployments('acme');

      const run = hostplane(['deployments', 'rollback', 'acme', second!.deploymentId, '--api', api.url]);

      expect(await run.exited).toBe(0);
      expect(run.stdout()).toMatch(new RegExp(`^rolling back acme: undoing ${second!.deploymentId} \\(deployment dep-`, 'm'));
      expect(run.stdout()).toMatch(/^ {2}✓ Publish /m);
      expect(run.stdout().trimEnd().split('\n').at(-1)).toBe(`acme now serves release ${first!.releaseId!.slice(0, 12)}… (Bookshop) at http://acme.localhost:7780/`);
      expect(api.deployments('acme')[0]).toMatchObject({ kind: 'rollback', rollbackOf: second!.deploymentId, status: 'SUCCEEDED' });
    });
  });
});
