import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMMUTABLE, REVALIDATE } from '../../lambdas/domain/static-assets.js';
import { LocalEdge } from '../../local/adapters/local-edge.js';
import { startFrontDoor, type FrontDoor } from '../../local/front-door.js';
import { send } from '../support/http.js';

const BUCKET = 'hp-dev-local-acme-assets';
const RELEASE_A = 'aaaaaaaaaaaaaaaa';
const RELEASE_B = 'bbbbbbbbbbbbbbbb';
const FRONT_END_A = {
  'index.html': '<!doctype html><title>A</title>',
  'app.js': 'console.log("A");\n',
  'assets/logo-3f9a1c2b.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
};
const FRONT_END_B = { 'index.html': '<!doctype html><title>B</title>', 'app.js': 'console.log("B");\n' };

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('the local edge publishes a release\'s front end where the front door serves it, as CloudFront serves the bucket', () => {
  let stateDir: string;
  let upstream: Server;
  let edge: LocalEdge;
  let door: FrontDoor;
  const host = { host: 'acme.localhost' };
  const get = (path: string, method = 'GET') => send(door.port, { path, method, headers: host });

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hp-front-door-assets-'));
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
        res.end(`upstream: ${req.method} ${req.url}`);
      });
    });
    const upstreamPort = await listen(upstream);
    let doorPort = 0;
    edge = new LocalEdge({ stateDir, port: () => doorPort });
    door = await startFrontDoor({ edge });
    doorPort = door.port;
    await edge.registerRoute({ tenantId: 'acme', hostLabel: 'acme', endpoint: `127.0.0.1:${upstreamPort}`, assetsBucket: BUCKET });
    await edge.ensureStaticAssets(BUCKET);
  });

  afterAll(async () => {
    await door?.close();
    await new Promise<void>((resolve) => {
      upstream.close(() => resolve());
      upstream.closeAllConnections();
    });
    await rm(stateDir, { recursive: true, force: true });
  });

  it('serves / as index.html and each file at its path, with its type and caching, once published', async () => {
    const before = await get('/');

    const published = await edge.publishStaticAssets(BUCKET, RELEASE_A, FRONT_END_A);
    const [root, index, app, logo, head] = await Promise.all([get('/'), get('/index.html'), get('/app.js'), get('/assets/logo-3f9a1c2b.svg'), get('/app.js', 'HEAD')]);

    expect(before.headers['x-upstream']).toBe('yes');
    expect(published).toEqual({ releaseId: RELEASE_A, written: 3, removed: 0 });
    expect(root).toMatchObject({ status: 200, body: FRONT_END_A['index.html'] });
    expect(root.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': REVALIDATE, 'content-security-policy': expect.stringContaining("default-src 'self'") });
    expect(root.headers['x-upstream']).toBeUndefined();
    expect(index.body).toBe(FRONT_END_A['index.html']);
    expect(app).toMatchObject({ status: 200, body: FRONT_END_A['app.js'] });
    expect(app.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': REVALIDATE });
    expect(logo.headers).toMatchObject({ 'content-type': 'image/svg+xml', 'cache-control': IMMUTABLE });
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe(String(FRONT_END_A['app.js'].length));
  });

  it('sends /api/*, other methods and paths it holds no file for to the tenant\'s service', async () => {
    await edge.publishStaticAssets(BUCKET, RELEASE_A, FRONT_END_A);
    // A file placed by hand under api/ (publishing refuses such keys): /api/* is never static.
    await mkdir(join(edge.assetsFolder(BUCKET), 'api'), { recursive: true });
    await writeFile(join(edge.assetsFolder(BUCKET), 'api', 'book'), 'not the api');

    const [api, version, post] = await Promise.all([get('/api/book'), get('/version'), get('/', 'POST')]);

    expect(api).toMatchObject({ status: 200, body: 'upstream: GET /api/book' });
    expect(version).toMatchObject({ status: 200, body: 'upstream: GET /version' });
    expect(post).toMatchObject({ status: 200, body: 'upstream: POST /' });
  });

  it('replaces the front end with the next release\'s, removing what it lacks; the earlier one published again is back', async () => {
    await edge.publishStaticAssets(BUCKET, RELEASE_A, FRONT_END_A);

    const deployed = await edge.publishStaticAssets(BUCKET, RELEASE_B, FRONT_END_B);
    const afterDeploy = { root: (await get('/')).body, logo: (await get('/assets/logo-3f9a1c2b.svg')).status, files: (await readdir(edge.assetsFolder(BUCKET))).sort() };
    await edge.publishStaticAssets(BUCKET, RELEASE_A, FRONT_END_A);
    const afterRollback = { root: (await get('/')).body, logo: (await get('/assets/logo-3f9a1c2b.svg')).body };

    expect(deployed.releaseId).toBe(RELEASE_B);
    expect(deployed.written).toBe(2);
    expect(afterDeploy).toEqual({ root: FRONT_END_B['index.html'], logo: 404, files: ['app.js', 'index.html'] });
    expect(afterRollback).toEqual({ root: FRONT_END_A['index.html'], logo: FRONT_END_A['assets/logo-3f9a1c2b.svg'] });
  });

  it('refuses unsafe paths, a bad release id and a store that does not exist', async () => {
    await expect(edge.publishStaticAssets(BUCKET, RELEASE_A, { '../../edge/routes.json': '{}' })).rejects.toThrow('is not a safe relative path');
    await expect(edge.publishStaticAssets(BUCKET, RELEASE_A, { 'api/book': '[]' })).rejects.toThrow('is under api/');
    await expect(edge.publishStaticAssets(BUCKET, '../x', FRONT_END_A)).rejects.toThrow('releaseId');
    await expect(edge.publishStaticAssets('hp-dev-local-nobody-assets', RELEASE_A, FRONT_END_A)).rejects.toMatchObject({ name: 'Hostplane.Permanent' });
  });
});
