// Starts the REAL worker entry (dist/src/worker/main.js) the way the master does, for the worker-*.test.ts files:
// options in SCGI_SUPERVISE_WORKER, IPC on fd 3, a listening socket on fd 4. Not a test file itself.
//
// The listening socket: the test binds 127.0.0.1:0 with net.createServer().listen(), passes the descriptor as
// stdio slot 4 (spawn dup2()s it into the child), and closes its own server right after spawn() returns. The
// kernel socket lives on in the worker's copy, so only the worker ever accepts, and the port stays bound while
// the worker lives (closing a listening socket's descriptor in one process never affects another's copy; that
// is exactly what the master relies on). For a Unix socket see the rename trick in startWorker.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { renameSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS, type ProtocolLimits, type ProtocolTimeouts } from '../../src/protocol/limits.js';
import { WORKER_OPTIONS_ENV, type WorkerOptions, type WorkerToMaster } from '../../src/worker/messages.js';
import { ROOT } from '../helpers/paths.js';
import { encodeRequest, nginxLikeParams } from '../../src/protocol/request-encoder.js';
import { exchange, parseResponse, show, type CgiResponse, type Outcome, type Target } from '../helpers/scgi-raw.js';

export const WORKER_ENTRY = join(ROOT, 'dist', 'src', 'worker', 'main.js');

export interface WorkerUnderTest {
  child: ChildProcess;
  pid: number;
  target: Target;
  messages: WorkerToMaster[];
  /** Everything the worker wrote on stderr so far (its log). */
  stderr(): string;
  /** The first message of that type (already received or coming), within timeoutMs. */
  waitFor<T extends WorkerToMaster['type']>(type: T, timeoutMs?: number): Promise<Extract<WorkerToMaster, { type: T }>>;
  waitExit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Polls the log until `pattern` appears, within timeoutMs. */
  waitLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export interface StartOptions {
  limits?: Partial<ProtocolLimits>;
  timeouts?: Partial<ProtocolTimeouts>;
  gracefulTimeoutMs?: number;
  statsIntervalMs?: number;
  logLevel?: string;
  /** Wait for the 'ready' message (default true). */
  ready?: boolean;
  /** Listen on a Unix socket in a fresh temp dir instead of 127.0.0.1:0. */
  unix?: boolean;
  /** Extra environment for the worker (e.g. SCGI_SUPERVISE_NET_SOCKETS=1 for the net.Socket path). */
  env?: Record<string, string>;
}

export async function startWorker(t: TestContext, app: string, options: StartOptions = {}): Promise<WorkerUnderTest> {
  const server = createServer();
  let target: Target;
  let unixPath: string | null = null;
  if (options.unix === true) {
    // Closing a Node pipe server unlinks the path it bound. Bind one name, rename the socket file to the name the
    // test uses, then close: the unlink misses, the socket (found by inode) stays reachable under the new name.
    const dir = await mkdtemp(join(tmpdir(), 'scgi-worker-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    unixPath = join(dir, 'scgi.sock');
    const bindPath = join(dir, 'bind.sock');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bindPath, () => resolve());
    });
    renameSync(bindPath, unixPath);
    target = { kind: 'unix', path: unixPath };
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    target = { kind: 'tcp', host: '127.0.0.1', port: address.port };
  }
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;

  const workerOptions: WorkerOptions = {
    app,
    workerId: 1,
    generation: 1,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
    gracefulTimeoutMs: options.gracefulTimeoutMs ?? 5000,
    statsIntervalMs: options.statsIntervalMs ?? 100,
    logLevel: options.logLevel ?? 'debug',
    logFormat: 'text',
  };
  const child = spawn(process.execPath, [WORKER_ENTRY], {
    env: { ...process.env, ...options.env, [WORKER_OPTIONS_ENV]: JSON.stringify(workerOptions) },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc', fd],
  });
  server.close(); // our copy only: from here on the worker alone accepts (see the header)
  const pid = child.pid!;
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    log += s;
  });
  const messages: WorkerToMaster[] = [];
  const waiters: Array<() => void> = [];
  child.on('message', (m: WorkerToMaster) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  child.on('exit', (code, signal) => {
    exit = { code, signal };
    for (const w of waiters.splice(0)) w();
  });

  const until = <T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; worker log:\n${log}`)), timeoutMs);
      const poll = (): void => {
        const value = check();
        if (value !== undefined) {
          clearTimeout(timer);
          resolve(value);
        } else {
          waiters.push(poll);
        }
      };
      poll();
    });

  const w: WorkerUnderTest = {
    child,
    pid,
    target,
    messages,
    stderr: () => log,
    waitFor: (type, timeoutMs = 20_000) =>
      until(`message ${type}`, timeoutMs, () => messages.find((m) => m.type === type) as never),
    waitExit: (timeoutMs = 20_000) => until('exit', timeoutMs, () => exit ?? undefined),
    waitLog: async (pattern, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const m = pattern.exec(log);
        if (m) return m[0];
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`log never matched ${pattern} within ${timeoutMs} ms; log:\n${log}`);
    },
  };
  if (options.ready !== false) await w.waitFor('ready');
  return w;
}

export interface CallOptions {
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  https?: boolean;
  timeoutMs?: number;
  /** Params appended after nginx's (e.g. odd ones a test needs). */
  extraParams?: Array<[string, string]>;
}

export interface CallResult {
  outcome: Outcome;
  res: CgiResponse;
}

/** One request as nginx 1.22 would send it (REMOTE_ADDR 10.1.2.3:40000, Host example.test), read to the FIN. */
export async function call(w: WorkerUnderTest, method: string, uri: string, options: CallOptions = {}): Promise<CallResult> {
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : (options.body ?? Buffer.alloc(0));
  const headers: Array<[string, string]> = [['Host', 'example.test'], ...(options.headers ?? [])];
  if (body.length > 0 && !headers.some(([n]) => n.toLowerCase() === 'content-length')) {
    headers.push(['Content-Length', String(body.length)]);
  }
  const params = nginxLikeParams({
    method,
    uri,
    headers,
    remoteAddr: '10.1.2.3',
    remotePort: 40000,
    serverPort: 443,
    scheme: options.https ? 'https' : 'http',
  });
  params.push(...(options.extraParams ?? []));
  const outcome = await exchange(w.target, [encodeRequest(params, body)], { timeoutMs: options.timeoutMs ?? 20_000 });
  let res: CgiResponse;
  try {
    res = parseResponse(outcome.data);
  } catch (err) {
    throw new Error(`${method} ${uri}: ${(err as Error).message}; ${show(outcome)}; worker log:\n${w.stderr()}`);
  }
  return { outcome, res };
}

/** The same deterministic bytes the fixture apps serve for /big: pattern(i) = i % 251. */
export function pattern(size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = i % 251;
  return buf;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Sends `bytes`, reads to the end, and tells whether the worker ended the connection with RST (not FIN).
 * A Node client cannot always see an RST that arrives right behind the data: libuv reports the POLLHUP after a
 * short read as EOF. The reset is still pending on the socket, though, so one byte written after that "EOF"
 * fails at once with ECONNRESET/EPIPE, whereas after a real FIN the worker is still draining and takes it.
 */
export async function sendExpectingReset(w: WorkerUnderTest, bytes: Buffer): Promise<{ outcome: Outcome; reset: boolean }> {
  const outcome = await exchange(w.target, [bytes, { waitMs: 50 }, 'x', { waitMs: 50 }, 'y'], { lingerMs: 400 });
  const reset =
    outcome.ending === 'rst' ||
    outcome.errorAfterFin === 'ECONNRESET' ||
    outcome.errorAfterFin === 'EPIPE' ||
    outcome.errorAfterFin === 'rst' ||
    outcome.errorAfterFin === 'error';
  return { outcome, reset };
}
