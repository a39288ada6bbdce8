import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUNCTIONS, type FunctionName } from '../lambdas/functions.js';
import type { LambdaHandler } from './lambda-invoker.js';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const loaded = new Map<FunctionName, Promise<LambdaHandler>>();

/** Loads the `handler` export of a function's entry file: the very module the Lambda runs. */
export function loadFunctionHandler(name: FunctionName): Promise<LambdaHandler> {
  let handler = loaded.get(name);
  if (!handler) {
    handler = import(join(repositoryRoot, FUNCTIONS[name])).then((module: { handler?: LambdaHandler }) => {
      if (typeof module.handler !== 'function') throw new Error(`${FUNCTIONS[name]} exports no handler`);
      return module.handler;
    });
    loaded.set(name, handler);
  }
  return handler;
}

/** Loads every handler, one after another, so executions never load modules concurrently (and start warm). */
export async function preloadFunctionHandlers(): Promise<void> {
  for (const name of Object.keys(FUNCTIONS) as FunctionName[]) await loadFunctionHandler(name);
}
