import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { LambdaInvocationFailure } from '../../local/lambda-invoker.js';

const BOOTSTRAP = join(dirname(fileURLToPath(import.meta.url)), 'bootstrap.mjs');

/** One function of the synthesized template, as Lambda would run it. */
export interface LambdaFunction {
  readonly logicalId: string;
  readonly functionName: string;
  readonly arn: string;
  /** The asset folder in `cdk.out` (Lambda's /var/task). */
  readonly assetDir: string;
  /** `index.handler`. */
  readonly handler: string;
  /** The template's `Environment.Variables`, resolved. */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
}

/** One invocation, for the rehearsal's report. */
export interface InvocationRecord {
  readonly functionName: string;
  readonly coldStart: boolean;
  /** The handler module's import time in a cold start. */
  readonly importMs?: number;
  readonly durationMs: number;
  readonly outcome: 'ok' | 'error' | 'timeout';
}

export interface LambdaServiceOptions {
  /**
   * What the rehearsal's account adds to every sandbox: credentials and the endpoints that stand in
   * for AWS (`AWS_ENDPOINT_URL…`), as Lambda adds the execution role's credentials.
   */
  readonly sandboxEnvironment: Readonly<Record<string, string>>;
  /** Variables that name paths of Lambda's machine (`/mnt/…`, `/var/task/…`), mapped to this one's. */
  readonly environmentOverrides?: (fn: LambdaFunction) => Readonly<Record<string, string>>;
  /** Where each function's output is written (`<dir>/<function>.log`). */
  readonly logDir: string;
}

interface Sandbox {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  busy: boolean;
  invocations: number;
}

type SandboxMessage =
  | { type: 'ready'; importMs: number }
  | { type: 'init-error'; error: LambdaError }
  | { type: 'result'; id: number; payload: string }
  | { type: 'error'; id: number; error: LambdaError };

interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

/**
 * Lambda on one machine: each function's bundled asset, run by plain `node` in a sandbox process of
 * its own with exactly the environment the template gives it (plus Lambda's reserved variables),
 * one invocation at a time per sandbox, a new sandbox (a cold start) when all are busy, and the
 * function's timeout enforced by killing the sandbox.
 */
export class LambdaService {
  readonly records: InvocationRecord[] = [];
  private readonly byArn = new Map<string, LambdaFunction>();
  private readonly sandboxes = new Map<string, Sandbox[]>();
  private readonly logs = new Map<string, WriteStream>();
  private nextId = 1;

  constructor(
    functions: readonly LambdaFunction[],
    private readonly options: LambdaServiceOptions,
  ) {
    for (const fn of functions) {
      this.byArn.set(fn.arn, fn);
      this.byArn.set(fn.functionName, fn);
    }
    mkdirSync(options.logDir, { recursive: true });
  }

  functions(): LambdaFunction[] {
    return [...new Set(this.byArn.values())];
  }

  find(arnOrName: string): LambdaFunction {
    const fn = this.byArn.get(arnOrName) ?? this.byArn.get(arnOrName.replace(/:\$LATEST$/, ''));
    if (!fn) throw new LambdaInvocationFailure('ResourceNotFoundException', `Function not found: ${arnOrName}`, []);
    return fn;
  }

  /** Invokes as `RequestResponse`: resolves with the payload, or rejects with the function's error in Lambda's shape. */
  async invoke(arnOrName: string, event: unknown): Promise<unknown> {
    const fn = this.find(arnOrName);
    const started = performance.now();
    let sandbox = (this.sandboxes.get(fn.functionName) ?? []).find((candidate) => !candidate.busy);
    const coldStart = !sandbox;
    if (!sandbox) sandbox = this.startSandbox(fn);
    sandbox.busy = true;
    const record = (outcome: InvocationRecord['outcome'], importMs?: number) =>
      this.records.push({ functionName: fn.functionName, coldStart, importMs, durationMs: performance.now() - started, outcome });
    let importMs: number;
    try {
      importMs = await sandbox.ready;
    } catch (error) {
      this.retire(fn, sandbox);
      record('error');
      throw error;
    }
    try {
      const payload = await this.run(fn, sandbox, event);
      sandbox.busy = false;
      record('ok', coldStart ? importMs : undefined);
      return payload;
    } catch (error) {
      const timedOut = error instanceof LambdaInvocationFailure && error.name === 'Sandbox.Timedout';
      if (timedOut) this.retire(fn, sandbox);
      else sandbox.busy = false;
      record(timedOut ? 'timeout' : 'error', coldStart ? importMs : undefined);
      throw error;
    }
  }

  /** Invokes as `Event`: the result is dropped, a failure written to the function's log. */
  invokeAsync(arnOrName: string, event: unknown): void {
    this.invoke(arnOrName, event).catch((error: unknown) => this.log(this.find(arnOrName).functionName).write(`[async invocation failed] ${String(error)}\n`));
  }

  async stop(): Promise<void> {
    const all = [...this.sandboxes.values()].flat();
    this.sandboxes.clear();
    await Promise.all(
      all.map(
        (sandbox) =>
          new Promise<void>((resolve) => {
            if (sandbox.child.exitCode !== null || sandbox.child.signalCode !== null) return resolve();
            sandbox.child.once('exit', () => resolve());
            sandbox.child.kill('SIGKILL');
          }),
      ),
    );
    await Promise.all([...this.logs.values()].map((stream) => new Promise<void>((resolve) => stream.end(resolve))));
    this.logs.clear();
  }

  private startSandbox(fn: LambdaFunction): Sandbox {
    const environment: Record<string, string> = {
      ...fn.environment,
      ...this.options.environmentOverrides?.(fn),
      ...this.options.sandboxEnvironment,
      // Lambda's reserved variables: a function cannot set these.
      _HANDLER: fn.handler,
      LAMBDA_TASK_ROOT: fn.assetDir,
      LAMBDA_RUNTIME_DIR: dirname(BOOTSTRAP),
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `rehearsal/${Date.now()}`,
      HOSTPLANE_REHEARSAL_FUNCTION_ARN: fn.arn,
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      PATH: '/usr/local/bin:/usr/bin:/bin',
    };
    const child = fork(BOOTSTRAP, [], { cwd: fn.assetDir, env: environment, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
    const log = this.log(fn.functionName);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const ready = new Promise<number>((resolve, reject) => {
      const onMessage = (message: SandboxMessage) => {
        if (message.type === 'ready') resolve(message.importMs);
        else if (message.type === 'init-error') reject(new LambdaInvocationFailure(message.error.errorType, message.error.errorMessage, [...message.error.trace]));
        else return;
        child.off('message', onMessage);
      };
      child.on('message', onMessage);
      child.once('exit', (code, signal) => reject(new LambdaInvocationFailure('Runtime.ExitError', `the sandbox exited (${signal ?? code}) before its handler loaded`, [])));
    });
    ready.catch(() => undefined);
    const sandbox: Sandbox = { child, ready, busy: false, invocations: 0 };
    // A sandbox that dies between invocations is gone; the next invocation is a cold start.
    child.once('exit', () => this.sandboxes.set(fn.functionName, (this.sandboxes.get(fn.functionName) ?? []).filter((candidate) => candidate !== sandbox)));
    const list = this.sandboxes.get(fn.functionName) ?? [];
    list.push(sandbox);
    this.sandboxes.set(fn.functionName, list);
    return sandbox;
  }

  private run(fn: LambdaFunction, sandbox: Sandbox, event: unknown): Promise<unknown> {
    const id = this.nextId++;
    sandbox.invocations += 1;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        sandbox.child.kill('SIGKILL');
        reject(new LambdaInvocationFailure('Sandbox.Timedout', `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`, []));
      }, fn.timeoutSeconds * 1000);
      const onMessage = (message: SandboxMessage) => {
        if (!('id' in message) || message.id !== id) return;
        cleanup();
        if (message.type === 'result') resolve(JSON.parse(message.payload) as unknown);
        else reject(new LambdaInvocationFailure(message.error.errorType, message.error.errorMessage, [...message.error.trace]));
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        reject(new LambdaInvocationFailure('Runtime.ExitError', `RequestId: ${id} Error: Runtime exited (${signal ?? code})`, []));
      };
      const cleanup = () => {
        clearTimeout(timer);
        sandbox.child.off('message', onMessage);
        sandbox.child.off('exit', onExit);
      };
      sandbox.child.on('message', onMessage);
      sandbox.child.once('exit', onExit);
      sandbox.child.send({ id, event: JSON.parse(JSON.stringify(event ?? null)) as unknown, timeoutMs: fn.timeoutSeconds * 1000 });
    });
  }

  private retire(fn: LambdaFunction, sandbox: Sandbox): void {
    sandbox.child.kill('SIGKILL');
    this.sandboxes.set(
      fn.functionName,
      (this.sandboxes.get(fn.functionName) ?? []).filter((candidate) => candidate !== sandbox),
    );
  }

  private log(functionName: string): WriteStream {
    let stream = this.logs.get(functionName);
    if (!stream) {
      stream = createWriteStream(join(this.options.logDir, `${functionName}.log`), { flags: 'a' });
      this.logs.set(functionName, stream);
    }
    return stream;
  }
}
