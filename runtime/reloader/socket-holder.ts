/**
 * The socket the reloader holds for the app processes, handed to each as fd 3 (the systemd
 * socket-activation convention).
 *
 * What was measured (Node 20.20, loopback, 8 keep-alive clients, 10-20 swaps, the swap being
 * "start the new process on the fd, wait for its readiness, SIGTERM the old one, which drains"):
 *
 * - Supervisor listens with `net.Server` and passes its fd: the supervisor's event loop accepts a
 *   share of the connections and never answers them (8 of 10,193 requests hung until the client
 *   timed out, all 8 accepted by the supervisor). `pauseOnConnect: true` changes nothing: the
 *   connection is still accepted, only not read (8 hung of 2,403).
 * - Node has no public API for a socket that is bound but not polled. The TCP handle behind
 *   `net.Server` (`process.binding('tcp_wrap')`, allow-listed, deprecated in documentation only,
 *   DEP0111) can `bind()` without `listen()`: libuv creates the socket (non-blocking, close-on-exec,
 *   SO_REUSEADDR) and binds it, and nothing in the supervisor ever polls it. Its `fd` is passed as
 *   an integer in `spawn`'s stdio array, so libuv dup2()s it to fd 3 in the child. 0 failures in
 *   25,919 requests (10 swaps); with the listening helper below, 0 in 30,946 (10 swaps), 55,695
 *   and 45,316 (20 swaps). The reloader tests (20 swaps, 8 clients) repeat it on every run.
 * - A bound socket refuses connections (ECONNREFUSED) until someone calls listen(2). So right after
 *   binding, a short-lived helper (`node -e`) is given the fd and calls `listen({ fd: 3 })`, exiting
 *   in the listen callback, before its event loop ever polls, so it cannot accept anything (~60 ms).
 *   From then on the socket is in LISTEN state for as long as the supervisor holds it: while no app
 *   is up (first start, crash restart) connections wait in the kernel's accept queue instead of
 *   being refused (measured: a request sent 300 ms before the app started was answered by it; after
 *   the app was SIGKILLed a connect still succeeded).
 * - Also works: a helper that listens with `net.Server` and sends its raw `server._handle` over IPC
 *   (Node converts it as `net.Native` and does not listen on it in the receiver): 0 failures in
 *   54,296 and 55,148 requests (20 swaps). Not chosen: the helper polls the socket while it sends it,
 *   so it could accept (and then drop) a connection in that window.
 * - libuv reports EADDRINUSE from bind(2) only at listen time and leaves the socket unbound (a
 *   listen(2) then binds a random port!), so `bindSocket` checks the bound address itself.
 * - Old and new processes listening on the same socket share one accept queue; when the old one
 *   closes its listening handle, connections still queued are accepted by the new one.
 */
import { spawn } from 'node:child_process';
import { getSystemErrorName } from 'node:util';

interface TcpWrapAddress {
  address?: string;
  port?: number;
  family?: string;
}

interface TcpWrapHandle {
  readonly fd: number;
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  getsockname(out: TcpWrapAddress): number;
  close(callback?: () => void): void;
}

interface TcpWrapBinding {
  readonly TCP: new (type: number) => TcpWrapHandle;
  readonly constants: { readonly SERVER: number };
}

function tcpWrap(): TcpWrapBinding {
  const withBinding = process as unknown as { binding?: (name: string) => unknown };
  if (typeof withBinding.binding !== 'function') throw new Error('process.binding is not available: cannot create a socket that is bound but not polled');
  return withBinding.binding('tcp_wrap') as TcpWrapBinding;
}

/** A socket held open by the supervisor and never polled by it. */
export interface HeldSocket {
  /** The supervisor's file descriptor: put it in a child's stdio array. */
  readonly fd: number;
  readonly host: string;
  readonly port: number;
  /** Closes the supervisor's copy; processes that inherited it keep theirs. */
  close(): void;
}

export class SocketBindError extends Error {
  override readonly name = 'SocketBindError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Binds a TCP socket without listening on it (no one polls it; connections are refused until someone listens). */
export function bindSocket(host: string, port: number): HeldSocket {
  const { TCP, constants } = tcpWrap();
  const handle = new TCP(constants.SERVER);
  const status = host.includes(':') ? handle.bind6(host, port, 0) : handle.bind(host, port);
  if (status !== 0) {
    handle.close();
    const code = getSystemErrorName(status);
    throw new SocketBindError(`cannot bind ${host}:${port}: ${code}`, code);
  }
  const address: TcpWrapAddress = {};
  handle.getsockname(address);
  // libuv defers EADDRINUSE from bind(2) to listen() (its `delayed_error`) and returns 0, leaving the
  // socket unbound: a listen(2) on it would then pick a random port. An unbound socket has port 0.
  if (!address.port || (port !== 0 && address.port !== port)) {
    handle.close();
    throw new SocketBindError(`cannot bind ${host}:${port}: EADDRINUSE`, 'EADDRINUSE');
  }
  let closed = false;
  return {
    fd: handle.fd,
    host,
    port: address.port ?? port,
    close: () => {
      if (closed) return;
      closed = true;
      handle.close();
    },
  };
}

/** Runs in a short-lived helper: listen(2) on fd 3 and exit before the event loop can accept anything. */
const LISTEN_ONCE_SCRIPT = `require('node:net').createServer().listen({ fd: 3 }, () => process.exit(0))`;

/** Turns a bound socket into a listening one through a helper process, so the supervisor never polls it. */
export async function startListening(socket: HeldSocket, timeoutMs = 10_000): Promise<void> {
  const helper = spawn(process.execPath, ['-e', LISTEN_ONCE_SCRIPT], { stdio: ['ignore', 'ignore', 'pipe', socket.fd] });
  let stderr = '';
  helper.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => helper.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      helper.once('error', reject);
      helper.once('close', (exitCode) => resolve(exitCode));
    });
    if (code !== 0) {
      const message = `could not listen on ${socket.host}:${socket.port} (helper exit ${code}): ${stderr.trim()}`;
      // Two sockets may both bind a port (SO_REUSEADDR) until one listens: the loser learns it here.
      if (stderr.includes('EADDRINUSE')) throw new SocketBindError(message, 'EADDRINUSE');
      throw new Error(message);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Binds and listens without ever polling: the socket the app processes share. */
export async function holdListeningSocket(host: string, port: number): Promise<HeldSocket> {
  const socket = bindSocket(host, port);
  try {
    await startListening(socket);
    return socket;
  } catch (error) {
    socket.close();
    throw error;
  }
}
