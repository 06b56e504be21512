// Starts the REAL worker entry (dist/src/worker/main.js) the way the master does, for the worker-*.test.ts files:
// options in SCGI_SUPERVISE_WORKER, IPC on fd 3, a listening socket on fd 4. Not a test file itself.
//
// The listening socket: the test binds 127.0.0.1:0 with net.createServer().listen(), passes the descriptor as
// stdio slot 4 (spawn dup2()s it into the child), and closes its own server right after spawn() returns. The
// kernel socket lives on in the worker's copy, so only the worker ever accepts, and the port stays bound while
// the worker lives (closing a listening socket's descriptor in one process never affects another's copy; that
// is exactly what the master relies on). TCP, not a Unix socket: closing a Node pipe server would unlink its path.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS, type ProtocolLimits, type ProtocolTimeouts } from '../../src/protocol/limits.js';
import { WORKER_OPTIONS_ENV, type WorkerOptions, type WorkerToMaster } from '../../src/worker/messages.js';
import { ROOT } from '../helpers/paths.js';
import type { Target } from '../helpers/scgi-raw.js';

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
}

export async function startWorker(t: TestContext, app: string, options: StartOptions = {}): Promise<WorkerUnderTest> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
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
    env: { ...process.env, [WORKER_OPTIONS_ENV]: JSON.stringify(workerOptions) },
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
    target: { kind: 'tcp', host: '127.0.0.1', port: address.port },
    messages,
    stderr: () => log,
    waitFor: (type, timeoutMs = 10_000) =>
      until(`message ${type}`, timeoutMs, () => messages.find((m) => m.type === type) as never),
    waitExit: (timeoutMs = 10_000) => until('exit', timeoutMs, () => exit ?? undefined),
    waitLog: async (pattern, timeoutMs = 5000) => {
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
