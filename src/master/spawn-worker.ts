// The one place in the master that calls child_process: starts dist/src/worker/main.js with the IPC channel on
// fd 3, the shared listening socket on fd 4 (worker/messages.ts LISTEN_FD) and, when output is routed, its stdout,
// stderr and log pipe (fd 5) read by worker-output.ts; as another user through setpriv (worker-identity.ts); and
// runs listener.ts's one-shot listen primer and the account lookups. Returns the small WorkerProcess interface the
// master uses, so unit tests can pass a fake. Not the worker's lifecycle (worker-handle.ts).

import { execFileSync, spawn as spawnChild, spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  LISTEN_FD,
  LOG_FD,
  WATCHDOG_FD,
  WORKER_OPTIONS_ENV,
  isWorkerToMaster,
  type MasterToWorker,
  type WorkerOptions,
  type WorkerToMaster,
} from '../worker/messages.js';
import { setprivArgs, type AccountLookup, type TestAs, type WorkerIdentity } from './worker-identity.js';
import type { WorkerOutput } from './worker-output.js';
import { LineSplitter } from './line-splitter.js';

export interface WorkerProcess {
  readonly pid: number;
  /**
   * False when the IPC channel is closed (the message was not sent). `handle`: a listening socket's handle sent
   * along (SCM_RIGHTS; the worker gets its own descriptor, the master keeps its own open).
   */
  send(message: MasterToWorker, handle?: object): boolean;
  /** ESRCH (already gone) is swallowed: the exit event follows anyway. */
  kill(signal: NodeJS.Signals): void;
  onMessage(listener: (message: WorkerToMaster) => void): void;
  /** Called once, after the process exited AND its IPC channel delivered every message it sent before exiting. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

export type SpawnWorker = (options: WorkerOptions, listenFd: number) => WorkerProcess;

export const WORKER_MAIN = fileURLToPath(new URL('../worker/main.js', import.meta.url));

// Variables meant for the master alone: a worker must not talk to systemd or claim the inherited sockets.
const MASTER_ONLY_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'];

// After 'exit', messages the worker sent just before (load-failed) may still be in the pipe; wait for the
// channel to close, but not forever (a grandchild may hold the channel's fd).
const CHANNEL_CLOSE_WAIT_MS = 1000;

/** How every worker of this master starts (config's user, group, chdir, env, node-args; output routing). */
export interface WorkerLaunch {
  /** null: the master's own identity (no setpriv). */
  identity: WorkerIdentity | null;
  chdir: string | null;
  env: Readonly<Record<string, string>>;
  /** Replaces the master's execArgv; null inherits it. */
  nodeArgs: readonly string[] | null;
  /** null: the workers write straight to the master's stdout and stderr (inherited). */
  output: WorkerOutput | null;
}

export function createSpawnWorker(launch: WorkerLaunch): SpawnWorker {
  return (options, listenFd) => startWorker(launch, options, listenFd);
}

/** Inherited stdio, the master's identity and flags: what unit tests and embedders get by default. */
export const spawnWorker: SpawnWorker = createSpawnWorker({ identity: null, chdir: null, env: {}, nodeArgs: null, output: null });

function startWorker(launch: WorkerLaunch, workerOptions: WorkerOptions, listenFd: number): WorkerProcess {
  const routed = launch.output !== null;
  const options: WorkerOptions = routed ? { ...workerOptions, logFd: LOG_FD } : workerOptions;
  // Precedence: the master's environment < the user's HOME/USER/LOGNAME < config env < what the worker needs.
  const env: NodeJS.ProcessEnv = { ...process.env, ...launch.identity?.env, ...launch.env, [WORKER_OPTIONS_ENV]: JSON.stringify(options) };
  for (const name of MASTER_ONLY_ENV) delete env[name];
  const stdio: ('ignore' | 'inherit' | 'ipc' | 'pipe' | number)[] = routed
    ? ['ignore', 'pipe', 'pipe', 'ipc', listenFd, 'pipe', 'pipe']
    : ['ignore', 'inherit', 'inherit', 'ipc', listenFd, 'ignore', 'pipe'];
  if (stdio[LISTEN_FD] !== listenFd || stdio.length !== WATCHDOG_FD + 1) throw new Error('stdio layout and LISTEN_FD/WATCHDOG_FD disagree');
  // The master's node flags carry over (--max-old-space-size, --enable-source-maps) unless node-args replaces
  // them, except the inspector's: N workers cannot all bind the master's debug port.
  const execArgv = launch.nodeArgs ?? process.execArgv.filter((a) => !/^--inspect/.test(a) && !/^--debug/.test(a));
  const nodeCommand = [process.execPath, ...execArgv, WORKER_MAIN];
  // setpriv changes uid, gid and groups, then execs node: the pid stays the same, and the inherited descriptors
  // (IPC, listening socket, pipes) with it. The socket is already bound, so the user needs no right to bind it.
  const [file, ...args] = launch.identity === null ? nodeCommand : ['setpriv', ...setprivArgs(launch.identity), '--', ...nodeCommand];
  const child = spawnChild(file!, args, {
    stdio,
    env,
    cwd: launch.chdir ?? undefined,
    // Own process group: a Ctrl-C in the terminal reaches the master alone, which then drains the workers.
    detached: true,
  });
  if (child.pid === undefined) {
    // spawn() reports EAGAIN/ENOMEM asynchronously; make it synchronous for the master, which backs the slot off.
    child.on('error', () => undefined);
    throw new Error(`could not start a worker process (${file})`);
  }
  const pid = child.pid;
  if (launch.output !== null) {
    const log = (child.stdio as unknown as Readable[])[LOG_FD]!;
    launch.output.attach(workerOptions.workerId, pid, { stdout: child.stdout!, stderr: child.stderr!, log });
  }
  let exitListener: ((code: number | null, signal: NodeJS.Signals | null) => void) | null = null;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let reported = false;
  const report = () => {
    if (reported || exited === null || exitListener === null) return;
    reported = true;
    exitListener(exited.code, exited.signal);
  };
  child.on('error', () => undefined); // kill()/send() on a dead child: the exit event tells the story
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    if (!child.connected) return report();
    const timer = setTimeout(report, CHANNEL_CLOSE_WAIT_MS);
    child.once('disconnect', () => {
      clearTimeout(timer);
      report();
    });
  });
  return {
    pid,
    send(message, handle) {
      if (!child.connected) return false;
      try {
        // A raw TCP/Pipe handle goes as child_process's 'net.Native': nothing closes the master's copy afterwards.
        return handle === undefined ? child.send(message) : child.send(message, handle as Parameters<typeof child.send>[1]);
      } catch {
        return false;
      }
    },
    kill(signal) {
      try {
        process.kill(pid, signal);
      } catch {
        // ESRCH: already gone; 'exit' follows.
      }
    },
    onMessage(listener) {
      child.on('message', (message: unknown) => {
        if (isWorkerToMaster(message)) listener(message);
      });
      // The watchdog thread's reports (worker/watchdog/watchdog-thread.ts): JSON lines, the only ones on this pipe.
      const lines = new LineSplitter((line, part) => {
        if (part !== 0) return;
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          return;
        }
        if (isWorkerToMaster(message) && message.type === 'blocked') listener(message);
      });
      const pipe = (child.stdio as unknown as Readable[])[WATCHDOG_FD]!;
      pipe.on('data', (chunk: Buffer) => lines.push(chunk));
      pipe.on('error', () => undefined);
    },
    onExit(listener) {
      exitListener = listener;
      report();
    },
  };
}

/** `getent passwd|group KEY` (NSS: files, LDAP, systemd's dynamic users), split on ":"; null when absent. */
export const lookupAccount: AccountLookup = (database, key) => {
  try {
    const line = execFileSync('getent', [database, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const first = line.split('\n')[0]!;
    return first === '' ? null : first.split(':');
  } catch {
    return null; // exit 2: no such entry
  }
};

/** `test ARGS` run as the workers will run (setpriv with the same arguments): the start-time access checks. */
export const testAs: TestAs = (identity, args) =>
  spawnSync('setpriv', [...setprivArgs(identity), '--', 'test', ...args], { stdio: 'ignore' }).status === 0;

export function hasSetpriv(): boolean {
  return spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
}

// Calls listen() on fd 3 and exits from the 'listening'/'error' callbacks, which run as nextTicks before the
// event loop's first poll phase, where libuv would accept: this process never accepts a connection.
const PRIME_SCRIPT =
  "const s=require('net').createServer();" +
  "s.on('error',(e)=>{process.stderr.write(String(e.code||e.message));process.exit(1)});" +
  "s.on('listening',()=>process.exit(0));" +
  // The backlog as the second argument: for an fd listen Node reads it from the arguments only (net.js
  // backlogFromArgs), never from options.backlog (which gave 511 whatever was asked).
  's.listen({fd:3},Number(process.argv[1]))';

/** Puts the socket behind `fd` into the listening state without accepting on it (listener.ts says why). */
export function runListenPrimer(fd: number, backlog: number): Promise<{ ok: true } | { ok: false; error: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(process.execPath, ['-e', PRIME_SCRIPT, String(backlog)], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
      env: {},
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve(code === 0 ? { ok: true } : { ok: false, error: stderr.trim() || `exit ${String(code)}` }));
  });
}
