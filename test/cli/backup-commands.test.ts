/**
 * `hostplane tenants backup|restore|export`: the real CLI as a child process against a real local
 * control plane (PostgreSQL, Redis, the backup state machine run by the local engine).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { api, startTestControlPlane, waitForOperation, type TestControlPlane } from '../support/control-plane.js';

const repositoryRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const run = promisify(execFile);

describe('the backup commands, against a local control plane', () => {
  let cp: TestControlPlane;
  let scratch: string;

  async function hostplane(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', HOSTPLANE_API_URL: cp.apiUrl };
    try {
      const { stdout, stderr } = await run(process.execPath, ['bin/hostplane.js', ...args], { cwd: repositoryRoot, env, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'hostplane-cli-backup-'));
    cp = await startTestControlPlane();
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'clibak', preferences: { cache: false } });
    expect((await waitForOperation(cp.apiUrl, created.body.operationId)).status).toBe('SUCCEEDED');
  });

  afterAll(async () => {
    await cp?.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('backs up with the states shown, exports through the link to a .tar.gz, and restores', async () => {
    const backup = await hostplane(['tenants', 'backup', 'clibak']);
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^backing up clibak \(operation op-/);
    expect(backup.stdout).toContain('✓ BackupTenant');
    const backupId = /backup (bk-\S+) of clibak: 0 rows in 1 entity/.exec(backup.stdout)?.[1];
    expect(backupId).toBeDefined();

    const out = join(scratch, 'clibak.tar.gz');
    const exported = await hostplane(['tenants', 'export', 'clibak', '--backup', backupId!, '--out', out]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain('✓ WriteExport');
    expect(exported.stdout).toContain(`exported clibak (backup ${backupId}) to ${out}`);
    expect(execFileSync('tar', ['-tzf', out], { encoding: 'utf8' }).trim().split('\n')).toEqual([`clibak-${backupId}/schema.json`, `clibak-${backupId}/note.csv`]);

    const restored = await hostplane(['tenants', 'restore', 'clibak', '--backup', backupId!]);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain('✓ RestoreBackup');
    expect(restored.stdout).toContain(`restored clibak from ${backupId}: 0 rows in 1 entity`);
  });

  it('exits 1 with the reason when the operation is refused', async () => {
    const refused = await hostplane(['tenants', 'restore', 'clibak', '--backup', 'bk-20260101T000000-abcdef']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('has no backup bk-20260101T000000-abcdef');
  });
});
