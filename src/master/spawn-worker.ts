// The one place in the master that calls child_process: starts dist/src/worker/main.js with the IPC channel on
// fd 3 and the shared listening socket on fd 4 (worker/messages.ts LISTEN_FD), and runs listener.ts's one-shot
// listen primer. Returns the small WorkerProcess interface the master uses, so unit tests can pass a fake.
// Not the worker's lifecycle (worker-handle.ts).

import { spawn as spawnChild } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LISTEN_FD, WORKER_OPTIONS_ENV, isWorkerToMaster, type MasterToWorker, type WorkerOptions, type WorkerToMaster } from '../worker/messages.js';

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

export const spawnWorker: SpawnWorker = (options, listenFd) => {
  const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_OPTIONS_ENV]: JSON.stringify(options) };
  for (const name of MASTER_ONLY_ENV) delete env[name];
  const stdio: ('ignore' | 'inherit' | 'ipc' | number)[] = ['ignore', 'inherit', 'inherit', 'ipc'];
  stdio[LISTEN_FD] = listenFd;
  // The master's node flags carry over (--max-old-space-size, --enable-source-maps), except the inspector's:
  // N workers cannot all bind the master's debug port.
  const execArgv = process.execArgv.filter((a) => !/^--inspect/.test(a) && !/^--debug/.test(a));
  const child = spawnChild(process.execPath, [...execArgv, WORKER_MAIN], {
    stdio,
    env,
    // Own process group: a Ctrl-C in the terminal reaches the master alone, which then drains the workers.
    detached: true,
  });
  if (child.pid === undefined) {
    // spawn() reports EAGAIN/ENOMEM asynchronously; make it synchronous for the master, which backs the slot off.
    child.on('error', () => undefined);
    throw new Error(`could not start a worker process (${process.execPath})`);
  }
  const pid = child.pid;
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
    },
    onExit(listener) {
      exitListener = listener;
      report();
    },
  };
};

// Calls listen() on fd 3 and exits from the 'listening'/'error' callbacks, which run as nextTicks before the
// event loop's first poll phase, where libuv would accept: this process never accepts a connection.
const PRIME_SCRIPT =
  "const s=require('net').createServer();" +
  "s.on('error',(e)=>{process.stderr.write(String(e.code||e.message));process.exit(1)});" +
  "s.on('listening',()=>process.exit(0));" +
  's.listen({fd:3,backlog:Number(process.argv[1])})';

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
