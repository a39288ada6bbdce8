import { describe, expect, it } from '@jest/globals';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { PermanentError } from '../../lambdas/domain/errors.js';
import { compileApp, releaseIdOf } from '../../lambdas/codegen/compile-app.js';
import { generateApp } from '../../lambdas/codegen/generate-app.js';
import { bookshop } from './support/app-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const decode = (content: string | Uint8Array) => (typeof content === 'string' ? content : Buffer.from(content).toString('utf8'));

describe('compileApp', () => {
  it('is reproducible: the Bookshop compiled twice gives the same release id and the same bytes', async () => {
    const first = await compileApp(generateApp(bookshop()));
    const second = await compileApp(generateApp(bookshop()));
    expect(second.releaseId).toBe(first.releaseId);
    expect(first.releaseId).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.keys(first.files)).toEqual(['public/app.js', 'public/index.html', 'public/style.css', 'server.mjs']);
    expect(Object.keys(second.files)).toEqual(Object.keys(first.files));
    for (const [path, content] of Object.entries(first.files)) {
      const again = second.files[path]!;
      expect({ path, same: Buffer.compare(Buffer.from(content), Buffer.from(again)) === 0 }).toEqual({ path, same: true });
    }
    expect(releaseIdOf(first.files)).toBe(first.releaseId);
    expect(first.stats.bundleBytes).toBe(first.files['server.mjs']!.length);
  });

  it(
    'gives the same bytes with esbuild-wasm (what the Compile Lambda runs) as with the native esbuild',
    async () => {
      const generated = generateApp(bookshop());
      const native = await compileApp(generated, { esbuild: 'esbuild' });
      const wasm = await compileApp(generated, { esbuild: 'esbuild-wasm' });
      expect(wasm.releaseId).toBe(native.releaseId);
      expect(Buffer.compare(Buffer.from(wasm.files['server.mjs']!), Buffer.from(native.files['server.mjs']!))).toBe(0);
    },
    // esbuild-wasm compiles its 14 MB of WebAssembly in a child node first: seconds on a busy machine.
    60_000,
  );

  it('gives another release id for another definition', async () => {
    const other = await compileApp(generateApp({ ...bookshop(), name: 'Bookshop 2' }));
    const first = await compileApp(generateApp(bookshop()));
    expect(other.releaseId).not.toBe(first.releaseId);
  });

  it('bundles pg and ioredis in: the only imports left are Node built-ins, and no absolute path is written', async () => {
    const { files } = await compileApp(generateApp(bookshop()));
    const bundle = decode(files['server.mjs']!);
    const builtins = new Set(builtinModules);
    const imported = [
      ...bundle.matchAll(/^import .* from ["']([^"']+)["'];?$/gm),
      ...bundle.matchAll(/\bimport\(["']([^"']+)["']\)/g),
      ...bundle.matchAll(/\b__require\(["']([^"']+)["']\)/g),
    ].map((match) => match[1]!);
    expect(imported.length).toBeGreaterThan(5);
    // Optional peers, required inside a try: left out so the bytes do not depend on what else is installed.
    expect(new Set(imported.filter((name) => !builtins.has(name.replace(/^node:/, ''))))).toEqual(new Set(['pg-native', 'supports-color']));
    expect(bundle).toContain('// node_modules/pg/lib/client.js');
    expect(bundle).toContain('// node_modules/ioredis/built/Redis.js');
    for (const absolute of [ROOT, tmpdir(), process.cwd()]) expect(bundle).not.toContain(absolute);
    expect(bundle.startsWith("import { createRequire as __hostplaneCreateRequire } from 'node:module';")).toBe(true);
  });

  it('fails with a permanent error naming the file when the sources do not compile', async () => {
    const generated = generateApp(bookshop());
    const broken = { ...generated, files: { ...generated.files, 'src/model.ts': 'export const MODEL = {' } };
    await expect(compileApp(broken)).rejects.toThrow(PermanentError);
    await expect(compileApp(broken)).rejects.toThrow(/src\/model\.ts:1/);
  });
});
