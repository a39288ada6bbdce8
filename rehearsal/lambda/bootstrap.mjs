// The rehearsal's Lambda runtime inside one sandbox process (rehearsal/lambda/lambda-sandbox.ts starts it):
// imports the handler module from the function's asset folder as Lambda's Node.js runtime does
// (`<file>.<export>`, `.mjs` then `.js`), then runs one invocation at a time from its parent, answering
// with the result or the error in Lambda's shape. Plain JavaScript: nothing here is bundled or transpiled.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const taskRoot = process.env.LAMBDA_TASK_ROOT;
const handlerSpec = process.env._HANDLER;
const failure = (error, fallbackType) => ({
  errorType: (error && error.name) || fallbackType,
  errorMessage: error && error.message !== undefined ? String(error.message) : String(error),
  trace: String((error && error.stack) || '').split('\n').slice(1, 6).map((line) => line.trim()),
});

let handler;
const importStarted = performance.now();
try {
  const dot = handlerSpec.lastIndexOf('.');
  const base = join(taskRoot, handlerSpec.slice(0, dot));
  const file = [`${base}.mjs`, `${base}.js`, `${base}.cjs`].find((candidate) => existsSync(candidate));
  if (!file) throw Object.assign(new Error(`Cannot find module '${base}'`), { name: 'Runtime.ImportModuleError' });
  const loaded = await import(pathToFileURL(file).href);
  handler = loaded[handlerSpec.slice(dot + 1)];
  if (typeof handler !== 'function') throw Object.assign(new Error(`${handlerSpec} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  process.send({ type: 'ready', importMs: performance.now() - importStarted });
} catch (error) {
  process.send({ type: 'init-error', error: failure(error, 'Runtime.ImportModuleError') });
}

process.on('message', async ({ id, event, timeoutMs }) => {
  const deadline = Date.now() + timeoutMs;
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: process.env.HOSTPLANE_REHEARSAL_FUNCTION_ARN,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: randomUUID(),
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(event, context);
    process.send({ type: 'result', id, payload: JSON.stringify(result === undefined ? null : result) });
  } catch (error) {
    process.send({ type: 'error', id, error: failure(error, 'Error') });
  }
});
