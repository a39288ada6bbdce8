import { createHash } from 'node:crypto';
import { z } from 'zod';
import { compileApp } from '../codegen/compile-app.js';
import { generateApp, type GeneratedApp } from '../codegen/generate-app.js';
import { PermanentError } from '../domain/errors.js';
import type { AppFilesPort } from '../ports/app-files.js';
import type { SqlPort } from '../ports/sql.js';
import { DeploymentRegistry } from '../registry/deployment-registry.js';
import type { CompiledRelease, DeployStepInput, GeneratedSources } from './deploy-input.js';
import { definitionOf } from './load-deployment.js';
import { stageRelease } from './releases.js';

/** Generated sources wait here between GenerateCode and Compile (removed once a deploy succeeds). */
export const BUILDS_FOLDER = 'builds';

const generatedSchema = z.object({
  app: z.string(),
  entry: z.string(),
  files: z.record(z.string(), z.string()),
});

function buildPath(folder: string, sourceId: string): string {
  return `${folder}/${BUILDS_FOLDER}/${sourceId}.json`;
}

/** GenerateCode: the definition becomes the app's sources, staged in the tenant's app files. */
export async function generateSources(input: DeployStepInput, sql: SqlPort, appFiles: AppFilesPort): Promise<GeneratedSources> {
  const definition = await definitionOf(sql, input.deployment.deploymentId);
  return stageSources(appFiles, input.deployment.names.appFilesFolder, generateApp(definition, { schema: input.deployment.names.schema }));
}

/** Stages generated sources in a tenant's app folder, where Compile reads them by the returned `sourceId`. */
export async function stageSources(appFiles: AppFilesPort, folder: string, generated: GeneratedApp): Promise<GeneratedSources> {
  const text = JSON.stringify(generated);
  const sourceId = createHash('sha256').update(text).digest('hex').slice(0, 16);
  await appFiles.writeFile(buildPath(folder, sourceId), text);
  return { sourceId, files: Object.keys(generated.files).length, bytes: Buffer.byteLength(text) };
}

/** Compile: esbuild (esbuild-wasm in the Lambda) bundles the staged sources into a release, staged (not yet current) under `releases/<id>/`. */
export async function compileRelease(
  input: DeployStepInput & { generated: GeneratedSources },
  sql: SqlPort,
  appFiles: AppFilesPort,
): Promise<CompiledRelease> {
  const folder = input.deployment.names.appFilesFolder;
  const staged = await appFiles.readFile(buildPath(folder, input.generated.sourceId));
  if (!staged) throw new PermanentError(`the generated sources ${input.generated.sourceId} are not in the app files; run GenerateCode again`);
  const generated: GeneratedApp = generatedSchema.parse(JSON.parse(staged.toString('utf8')));
  const compiled = await compileApp(generated);
  await stageRelease(appFiles, folder, compiled.releaseId, compiled.files);
  await new DeploymentRegistry(sql).recordRelease(input.deployment.deploymentId, { releaseId: compiled.releaseId });
  return { releaseId: compiled.releaseId, ...compiled.stats, buildMs: Math.round(compiled.stats.buildMs) };
}

/** Generated sources are scratch once a release is made current. */
export async function removeStagedSources(appFiles: AppFilesPort, folder: string): Promise<void> {
  await appFiles.removeFolder(`${folder}/${BUILDS_FOLDER}`);
}
