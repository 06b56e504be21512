// Starts a benchmark process in its own process group and stops it by pid, never by name: SIGTERM to the leader,
// then SIGKILL to the group and to every pid of its last known process tree. A registry lets run.ts stop everything
// it started on Ctrl-C, on errors and at exit. Not the /proc readers (proc-stats.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { processTree } from './proc-stats.js';

export interface LogLine {
  atMs: number; // performance.now() when the line arrived
  text: string;
}

export class ProcessGroup {
  readonly pid: number;
  readonly lines: LogLine[] = []; // stderr + stdout lines, bounded
  private exited = false;
  private exitInfo = '';
  private lastTree: number[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ) {
    // detached: setsid(), so the child leads a new process group we can signal as a whole.
    this.child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    this.pid = this.child.pid;
    LIVE.add(this);
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => {
        const parts = (partial + text).split('\n');
        partial = parts.pop() ?? '';
        const atMs = performance.now();
        for (const line of parts) this.lines.push({ atMs, text: line });
        if (this.lines.length > 5000) this.lines.splice(0, this.lines.length - 5000);
        for (const wake of this.waiters) wake();
      });
    }
    this.child.on('error', (error) => {
      this.exited = true;
      this.exitInfo = error.message;
      for (const wake of this.waiters) wake();
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      this.exitInfo = signal ?? `code ${code}`;
      for (const wake of this.waiters) wake();
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Waits for a log line matching `pattern` arriving at or after `sinceIndex`; returns it with its index. */
  waitForLine(pattern: RegExp, timeoutMs: number, sinceIndex = 0): Promise<{ line: LogLine; index: number; match: RegExpMatchArray }> {
    return new Promise((resolve, reject) => {
      let scanned = sinceIndex;
      const check = () => {
        for (; scanned < this.lines.length; scanned++) {
          const match = this.lines[scanned]!.text.match(pattern);
          if (match) return finish(() => resolve({ line: this.lines[scanned]!, index: scanned, match }));
        }
        if (this.exited) finish(() => reject(new Error(`${this.name} exited (${this.exitInfo}) before logging ${pattern}\n${this.tail()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.name}: no ${pattern} within ${timeoutMs} ms\n${this.tail()}`))), timeoutMs);
      const finish = (then: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        then();
      };
      this.waiters.add(check);
      check();
    });
  }

  tail(count = 15): string {
    return this.lines.slice(-count).map((l) => `  | ${l.text}`).join('\n');
  }

  /** The pids of this group's process tree now (leader first); remembered for stop(). */
  tree(): number[] {
    if (!this.exited) this.lastTree = processTree(this.pid);
    return this.lastTree;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 8000): Promise<void> {
    if (!this.exited) {
      this.tree();
      try {
        process.kill(this.pid, signal);
      } catch {
        // ESRCH: already gone
      }
      const deadline = performance.now() + graceMs;
      while (!this.exited && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    this.killRest();
    LIVE.delete(this);
  }

  /** SIGKILL whatever is left of the group and the last known tree (synchronous: also used from 'exit'). */
  killRest(): void {
    const targets = [-this.pid, ...this.lastTree];
    for (const target of targets) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // ESRCH: already gone
      }
    }
  }
}

const LIVE = new Set<ProcessGroup>();
/** Short-lived helpers (wrk and its shell) started with detached: true; their process groups are killed on cleanup. */
export const HELPER_GROUPS = new Set<number>();

function killHelpers(): void {
  for (const pgid of HELPER_GROUPS) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // ESRCH: already gone
    }
  }
  HELPER_GROUPS.clear();
}

export async function stopAll(): Promise<void> {
  killHelpers();
  await Promise.all([...LIVE].map((group) => group.stop()));
}

let installed = false;
/** Set once a Ctrl-C / SIGTERM cleanup has begun: errors from the runs it cut short are expected then. */
export const cleanup = { interrupted: false };
/** On Ctrl-C / SIGTERM stop every group (then exit 130/143); at exit, SIGKILL any left. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      cleanup.interrupted = true;
      process.stderr.write(`\nbench: ${signal}, stopping ${LIVE.size} process group(s)\n`);
      void stopAll().finally(() => process.exit(code));
    });
  }
  process.on('exit', () => {
    killHelpers();
    for (const group of LIVE) group.killRest();
  });
}
