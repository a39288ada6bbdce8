import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUNCTIONS, type FunctionName } from '../lambdas/functions.js';
import { JOBS, type JobName } from '../lambdas/jobs.js';
import type { LambdaHandler } from './lambda-invoker.js';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const loaded = new Map<string, Promise<LambdaHandler>>();

/** Loads the `handler` export of a function's entry file: the very module the Lambda runs. */
export function loadFunctionHandler(name: FunctionName): Promise<LambdaHandler> {
  return loadHandler(FUNCTIONS[name]);
}

/** Loads the handler a job's ECS task runs (`lambdas/jobs.ts`). */
export function loadJobHandler(name: JobName): Promise<LambdaHandler> {
  return loadHandler(JOBS[name]);
}

function loadHandler(entry: string): Promise<LambdaHandler> {
  let handler = loaded.get(entry);
  if (!handler) {
    handler = import(join(repositoryRoot, entry)).then((module: { handler?: LambdaHandler }) => {
      if (typeof module.handler !== 'function') throw new Error(`${entry} exports no handler`);
      return module.handler;
    });
    loaded.set(entry, handler);
  }
  return handler;
}

/** Loads every handler, one after another, so executions never load modules concurrently (and start warm). */
export async function preloadFunctionHandlers(): Promise<void> {
  for (const name of Object.keys(FUNCTIONS) as FunctionName[]) await loadFunctionHandler(name);
  for (const name of Object.keys(JOBS) as JobName[]) await loadJobHandler(name);
}
