import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { join, resolve } from 'node:path';

/** A failure the CLI reports as one line, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface ApiAnswer<T> {
  readonly status: number;
  readonly body: T;
}

/** Finds the API: `--api`, then HOSTPLANE_API_URL, then the running local control plane's state file. */
export function resolveApiUrl(explicit: string | undefined, stateDir: string): string {
  const url = explicit ?? process.env.HOSTPLANE_API_URL;
  if (url) return url.replace(/\/+$/, '');
  const file = join(resolve(stateDir), 'control-plane.json');
  if (existsSync(file)) {
    const { apiUrl } = JSON.parse(readFileSync(file, 'utf8')) as { apiUrl?: string };
    if (apiUrl) return apiUrl;
  }
  throw new CliError(`no local control plane is running for ${resolve(stateDir)}: start one with \`npm start\` (or pass --api <url>)`);
}

export class ApiClient {
  constructor(private readonly baseUrl: string) {}

  async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer<T>> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? String(error);
      throw new CliError(`cannot reach the control plane at ${this.baseUrl} (${reason}); is \`npm start\` running?`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new CliError(`the control plane answered ${response.status} with something that is not JSON`);
    }
    return { status: response.status, body: parsed as T };
  }

  /** Like {@link call}, but any answer outside 2xx becomes a CliError carrying the API's message. */
  async expect<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer<T>> {
    const answer = await this.call<T & { message?: string; operationId?: string }>(method, path, body, headers);
    if (answer.status >= 400) {
      const { message, operationId } = answer.body;
      throw new CliError(`${message ?? `the control plane answered ${answer.status}`}${operationId ? ` (operation ${operationId})` : ''}`);
    }
    return answer;
  }
}

/** The global options every command inherits (`--api`, `--state-dir`). */
interface GlobalOptions {
  readonly api?: string;
  readonly stateDir: string;
}

/** The API client a command talks to, from its global options. */
export function apiClientFor(command: Command): ApiClient {
  const options = command.optsWithGlobals<GlobalOptions>();
  return new ApiClient(resolveApiUrl(options.api, options.stateDir));
}
