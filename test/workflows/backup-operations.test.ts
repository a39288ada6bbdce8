import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PermanentError } from '../../lambdas/domain/errors.js';
import type { InjectedFault } from '../../local/adapters/local-workflows.js';
import { api, startTestControlPlane, waitForOperation, type TestControlPlane } from '../support/control-plane.js';
import { send } from '../support/http.js';
import { pollUntil } from '../support/poll.js';

type Body = Record<string, unknown>;

/** Backup, restore and export as operations: the backup state machine run by the local engine with the production handlers. */
describe('backup, restore and export operations', () => {
  const faults: Record<string, InjectedFault> = {};
  let now = new Date();
  let cp: TestControlPlane;
  let scratch: string;

  const ended = (operationId: unknown) => waitForOperation(cp.apiUrl, operationId);
  const states = (operation: Body) => (operation.states as { state: string; status: string }[]).map((s) => `${s.state}:${s.status}`);

  async function note(tenantId: string, title: string): Promise<void> {
    await pollUntil(async () => {
      const reply = await send(cp.edgePort, {
        method: 'POST',
        path: '/api/note',
        headers: { host: `${tenantId}.localhost:${cp.edgePort}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title }),
      });
      return reply.status === 201 ? true : undefined;
    }, { what: `a note written to ${tenantId}` });
  }

  async function titles(tenantId: string): Promise<unknown[]> {
    const reply = await send(cp.edgePort, { path: '/api/note', headers: { host: `${tenantId}.localhost:${cp.edgePort}` } });
    return (JSON.parse(reply.body) as { items: { title: unknown }[] }).items.map((item) => item.title);
  }

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'hostplane-export-'));
    cp = await startTestControlPlane({ faults, reloaderPollMs: 100, clock: () => now });
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: 'keeper' });
    expect((await ended(created.body.operationId)).status).toBe('SUCCEEDED');
  });

  afterAll(async () => {
    await cp?.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('takes a backup as an operation (202), which ends SUCCEEDED with the backup, and restores it as an operation', async () => {
    await note('keeper', 'before');

    const taking = await api(cp.apiUrl, 'POST', '/tenants/keeper/backups');
    expect(taking.status).toBe(202);
    expect(taking.body).toMatchObject({ kind: 'backup', status: 'RUNNING' });
    expect(taking.headers.get('location')).toBe(`/operations/${String(taking.body.operationId)}`);
    const taken = await ended(taking.body.operationId);
    expect(taken).toMatchObject({ kind: 'backup', status: 'SUCCEEDED', error: null, result: { backupId: expect.stringMatching(/^bk-/), rows: 1 } });
    expect(states(taken)).toEqual(['BackupTenant:SUCCEEDED', 'FinishBackupOperation:SUCCEEDED']);
    const backupId = (taken.result as Body).backupId;
    const listed = (await api(cp.apiUrl, 'GET', '/tenants/keeper/backups')).body.items as Body[];
    expect(listed[0]).toMatchObject({ backupId, reason: 'manual', operationId: taking.body.operationId, expiresAt: null });

    await note('keeper', 'after');
    expect(await titles('keeper')).toEqual(['before', 'after']);
    const restoring = await api(cp.apiUrl, 'POST', '/tenants/keeper/restore', { backupId });
    expect(restoring.status).toBe(202);
    expect(restoring.body).toMatchObject({ kind: 'restore', status: 'RUNNING' });
    const restored = await ended(restoring.body.operationId);
    expect(restored).toMatchObject({ status: 'SUCCEEDED', result: { backupId, entities: [{ entity: 'note', rows: 1 }], deploymentId: null } });
    expect(states(restored)).toEqual(['RestoreBackup:SUCCEEDED', 'FinishBackupOperation:SUCCEEDED']);
    expect(await titles('keeper')).toEqual(['before']);
    expect((await api(cp.apiUrl, 'GET', '/tenants/keeper')).body).toMatchObject({ status: 'ACTIVE' });
  });

  it('exports a backup as an operation whose link serves the archive for 15 minutes, and no longer', async () => {
    const taken = await ended((await api(cp.apiUrl, 'POST', '/tenants/keeper/backups')).body.operationId);
    const backupId = String((taken.result as Body).backupId);

    const exporting = await api(cp.apiUrl, 'POST', `/tenants/keeper/backups/${backupId}/export`);
    expect(exporting.status).toBe(202);
    expect(exporting.body).toMatchObject({ kind: 'export', status: 'RUNNING' });
    const exported = await ended(exporting.body.operationId);
    expect(exported).toMatchObject({ status: 'SUCCEEDED', result: { backupId, files: ['schema.json', 'note.csv'] } });
    expect(states(exported)).toEqual(['WriteExport:SUCCEEDED', 'FinishBackupOperation:SUCCEEDED']);
    const download = exported.download as { url: string; expiresAt: string };
    expect(new Date(download.expiresAt).getTime() - now.getTime()).toBeGreaterThan(14 * 60_000);
    expect(JSON.stringify(exported).length).toBeLessThan(4096);

    const served = await fetch(download.url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('application/gzip');
    const archive = join(scratch, 'export.tar.gz');
    await writeFile(archive, Buffer.from(await served.arrayBuffer()));
    const listing = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toEqual([`keeper-${backupId}/schema.json`, `keeper-${backupId}/note.csv`]);
    execFileSync('tar', ['-xzf', archive, '-C', scratch]);
    expect(await readFile(join(scratch, `keeper-${backupId}`, 'note.csv'), 'utf8')).toMatch(/^id,title,body,created_at,updated_at\r\n1,before,,/);

    // A tampered link is refused; 15 minutes later the link is refused, and a GET of the operation gives a new one.
    const tampered = new URL(download.url);
    tampered.searchParams.set('expires', String(Number(tampered.searchParams.get('expires')) + 3600));
    expect((await fetch(tampered)).status).toBe(403);
    now = new Date(now.getTime() + 15 * 60_000 + 1000);
    const expired = await fetch(download.url);
    expect(expired.status).toBe(403);
    expect(await expired.json()).toMatchObject({ error: 'LinkExpired' });
    const again = (await api(cp.apiUrl, 'GET', `/operations/${String(exporting.body.operationId)}`)).body.download as { url: string };
    expect((await fetch(again.url)).status).toBe(200);
  });

  it('answers a replayed Idempotency-Key with the first operation, a second request while one runs with 409 naming it', async () => {
    const headers = { 'Idempotency-Key': `backup-${Date.now()}` };
    const first = await api(cp.apiUrl, 'POST', '/tenants/keeper/backups', undefined, headers);
    const busy = await api(cp.apiUrl, 'POST', '/tenants/keeper/restore', { backupId: 'bk-20260101T000000-abcdef' });
    const replay = await api(cp.apiUrl, 'POST', '/tenants/keeper/backups', undefined, headers);
    expect(first.status).toBe(202);
    expect(replay.status).toBe(200);
    expect(replay.body.operationId).toBe(first.body.operationId);
    // An unknown backup is a 404 before the lock is even looked at; a known one meets the running backup.
    expect(busy.status).toBe(404);
    const listed = (await api(cp.apiUrl, 'GET', '/tenants/keeper/backups')).body.items as Body[];
    const conflict = await api(cp.apiUrl, 'POST', '/tenants/keeper/restore', { backupId: listed[0]!.backupId });
    if (conflict.status === 409) {
      expect(conflict.body.operationId).toBe(first.body.operationId);
      expect(conflict.body.message).toContain(String(first.body.operationId));
    } else {
      // The backup had already ended: the restore ran instead.
      expect(conflict.status).toBe(202);
      await ended(conflict.body.operationId);
    }
    expect((await ended(first.body.operationId)).status).toBe('SUCCEEDED');
    const otherRequest = await api(cp.apiUrl, 'POST', `/tenants/keeper/backups/${String(listed[0]!.backupId)}/export`, undefined, headers);
    expect(otherRequest.status).toBe(409);
    expect(otherRequest.body.message).toContain('different request');
  });

  it('fails the operation with the reason when the backup job fails, leaving the tenant ACTIVE', async () => {
    faults.BackupTenant = { error: new PermanentError('the backup store is full'), when: 'before' };
    try {
      const taking = await api(cp.apiUrl, 'POST', '/tenants/keeper/backups');
      const failed = await ended(taking.body.operationId);
      expect(failed).toMatchObject({ kind: 'backup', status: 'FAILED', result: null });
      expect(String(failed.error)).toContain('the backup store is full');
      expect(states(failed)).toEqual(['FailBackupOperation:SUCCEEDED']);
    } finally {
      delete faults.BackupTenant;
    }
    expect((await api(cp.apiUrl, 'GET', '/tenants/keeper')).body).toMatchObject({ status: 'ACTIVE' });
    expect((await api(cp.apiUrl, 'POST', '/tenants/keeper/restore', {})).body).toMatchObject({ field: 'backupId' });
    expect((await api(cp.apiUrl, 'POST', '/tenants/keeper/backups/bk-nope/export')).status).toBe(404);
    expect((await api(cp.apiUrl, 'POST', '/tenants/nobody/backups')).status).toBe(404);
  });
});
