import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { CLOUD_VARIABLES } from '../../cloud/cloud-environment.js';
import { compileApp } from '../../lambdas/codegen/compile-app.js';
import { generateApp } from '../../lambdas/codegen/generate-app.js';
import { stageSources } from '../../lambdas/deploy/build-release.js';
import type { DeployStepInput, GeneratedSources } from '../../lambdas/deploy/deploy-input.js';
import { tenantResourceNames } from '../../lambdas/domain/naming.js';
import { tenantIdSchema } from '../../lambdas/domain/tenant-id.js';
import { functionBuild } from '../../lib/control-plane/control-plane-functions.js';
import { HostplaneFunction } from '../../lib/hostplane-function.js';
import { FolderAppFiles } from '../../local/adapters/folder-app-files.js';
import { bookshop, killAllApps, startApp, call } from '../codegen/support/app-process.js';
import { TEST_DATABASE_URL } from '../support/services.js';

/** Bundling one function with esbuild, then compiling a release with esbuild-wasm in a fresh process. */
const SYNTH_TIMEOUT_MS = 120_000;
const HANDLER_TIMEOUT_MS = 120_000;

interface ExecuteStatement {
  readonly sql: string;
  readonly parameters?: readonly { name: string; value: Record<string, unknown> }[];
}

/** The RDS Data API as far as Compile uses it: every statement is recorded and answered "1 row updated". */
async function startDataApiStub(): Promise<{ url: string; statements: ExecuteStatement[]; close(): Promise<void> }> {
  const statements: ExecuteStatement[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/Execute') {
        statements.push(JSON.parse(body) as ExecuteStatement);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ numberOfRecordsUpdated: 1, records: [] }));
      } else {
        response.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'BadRequestException' }).end(JSON.stringify({ message: `not emulated: ${request.method} ${request.url}` }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, statements, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Runs `handler(event)` of `index.mjs` in a fresh `node` whose working directory is the copied asset; resolves with what it printed last. */
function invokeInFreshNode(assetDir: string, env: Record<string, string>, event: unknown): Promise<{ code: number | null; output: string; result?: unknown }> {
  const script = [
    "const { handler } = await import('./index.mjs');",
    `const event = ${JSON.stringify(event)};`,
    "const context = { awsRequestId: 'compile-bundle-test', functionName: 'Compile', getRemainingTimeInMillis: () => 300_000 };",
    'const result = await handler(event, context);',
    "process.stdout.write('\\nRESULT ' + JSON.stringify(result) + '\\n');",
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: assetDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the Compile handler did not answer within ${HANDLER_TIMEOUT_MS - 10_000} ms; output:\n${output}`));
    }, HANDLER_TIMEOUT_MS - 10_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const line = output.split('\n').find((text) => text.startsWith('RESULT '));
      resolve({ code, output, result: line ? (JSON.parse(line.slice('RESULT '.length)) as unknown) : undefined });
    });
  });
}

describe('the Compile function asset', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'hostplane-compile-bundle-'));
  const outdir = join(scratch, 'cdk.out');
  const assetCopy = join(scratch, 'asset');
  const mount = join(scratch, 'efs');
  let dataApi: Awaited<ReturnType<typeof startDataApiStub>> | undefined;
  let templateEnvironment: Record<string, string> = {};

  beforeAll(() => {
    const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'CompileBundle', { env: { account: '123456789012', region: 'eu-west-1' } });
    // Built as the control-plane stack builds it; the cell's resources are stand-ins.
    new HostplaneFunction(stack, 'Compile', {
      ...functionBuild('Compile'),
      environment: {
        [CLOUD_VARIABLES.environment]: 'rehearsal',
        [CLOUD_VARIABLES.cells]: JSON.stringify([{ cell: 'c1', maxTenants: 10 }]),
        [CLOUD_VARIABLES.accountId]: '123456789012',
        [CLOUD_VARIABLES.databaseClusterArn]: 'arn:aws:rds:eu-west-1:123456789012:cluster:hostplane',
        [CLOUD_VARIABLES.databaseSecretArn]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hostplane-admin',
        [CLOUD_VARIABLES.appFilesMount]: '/mnt/hostplane',
      },
    });
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, { Type: string; Properties: { Environment?: { Variables?: Record<string, string> } }; Metadata?: Record<string, string> }>;
    };
    const [fn] = Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Lambda::Function');
    templateEnvironment = fn!.Properties.Environment?.Variables ?? {};
    // The asset alone, outside the repository: nothing can resolve from the repository's node_modules.
    cpSync(join(outdir, fn!.Metadata!['aws:asset:path']!), assetCopy, { recursive: true });
  }, SYNTH_TIMEOUT_MS);

  afterAll(async () => {
    await killAllApps();
    await dataApi?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('compiles a starter app in a fresh node with only the asset, and the release serves its health route', async () => {
    dataApi = await startDataApiStub();
    const names = tenantResourceNames({ environment: 'rehearsal', cell: 'c1' }, tenantIdSchema.parse('bundle-check'));
    const generated = generateApp(bookshop(), { schema: names.schema });
    const event: DeployStepInput & { generated: GeneratedSources } = {
      operationId: 'op-compile-bundle',
      deployment: { deploymentId: 'dep-compile-bundle', tenantId: names.tenantId, kind: 'deploy', app: 'Bookshop', allowDestructive: false, names },
      generated: await stageSources(new FolderAppFiles(mount), names.appFilesFolder, generated),
    };

    const invoked = await invokeInFreshNode(
      assetCopy,
      {
        ...templateEnvironment,
        [CLOUD_VARIABLES.appFilesMount]: mount,
        // Lambda's PATH starts with its node's folder (/var/lang/bin): esbuild-wasm runs its WebAssembly in a child `node`.
        PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL_RDS_DATA: dataApi.url,
      },
      event,
    );

    expect({ code: invoked.code, output: invoked.result ? '' : invoked.output }).toEqual({ code: 0, output: '' });
    const { releaseId } = invoked.result as { releaseId: string };
    const release = join(mount, names.appFilesFolder, 'releases', releaseId);
    expect(readdirSync(release).sort()).toEqual(['.complete', 'public', 'server.mjs']);
    expect(readdirSync(join(release, 'public')).sort()).toEqual(['app.js', 'index.html', 'style.css']);
    const recorded = dataApi.statements.find((statement) => /UPDATE deployments SET release_id/.test(statement.sql));
    expect(recorded?.parameters).toEqual(expect.arrayContaining([{ name: 'releaseId', value: { stringValue: releaseId } }]));

    // The same bytes as the local world's native esbuild over the repository's node_modules.
    const local = await compileApp(generated, { esbuild: 'esbuild' });
    expect(releaseId).toBe(local.releaseId);
    expect(readFileSync(join(release, 'server.mjs')).equals(Buffer.from(local.files['server.mjs']!))).toBe(true);

    const { url } = await startApp({ dir: release, compiled: local, remove: async () => undefined }, { DATABASE_URL: TEST_DATABASE_URL });
    expect(await call(url, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok', app: 'Bookshop' } });
  }, HANDLER_TIMEOUT_MS + 30_000);

  it('ships esbuild-wasm, pg and ioredis as files and nothing built for one CPU', () => {
    const shipped = readdirSync(join(assetCopy, 'node_modules'));
    expect(shipped).toEqual(expect.arrayContaining(['esbuild-wasm', 'pg', 'ioredis', 'pg-protocol', '@ioredis']));
    expect(shipped).not.toContain('esbuild');
    expect(shipped).not.toContain('@esbuild');
    const files = readdirSync(assetCopy, { recursive: true, encoding: 'utf8' });
    expect(files.filter((file) => file.endsWith('.node'))).toEqual([]);
    expect(files).toContain(join('node_modules', 'esbuild-wasm', 'esbuild.wasm'));
    // The native esbuild's API refuses to run once bundled: the handler's bundle must not hold it.
    expect(readFileSync(join(assetCopy, 'index.mjs'), 'utf8')).not.toContain('The esbuild JavaScript API cannot be bundled');
  });
});
