// Process and socket plumbing shared by the test helpers that run real programs: temp dirs, ephemeral ports, bounded
// polling, and stopping a child by its pid (SIGTERM, then SIGKILL after a bound). Not a process manager: the
// supervisor helper (../supervisor.ts) and the front-end runners (nginx.ts, lighttpd.ts, apache.ts) build on it.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh dir under the OS temp dir, chmod 0755 so front-end workers (www-data) can reach sockets inside it. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `scgi-${prefix}-`));
  await chmod(dir, 0o755);
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Asks the kernel for a free loopback port (listen on 0, read it, close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from the kernel'))));
    });
  });
}

/** Thrown by a `waitFor` probe to give up at once (e.g. the process it waits on has exited). */
export class GiveUp extends Error {}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `probe` every `intervalMs` until it returns a value other than undefined/false, or `timeoutMs` passes
 * (then throws with `what` and the last error the probe threw). Bounded in time and in count.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const maxTries = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let i = 0; i < maxTries; i++) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      if (err instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${err.message}`);
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await delay(intervalMs);
  }
  const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${why}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends a signal, treating ESRCH (already gone) as success. */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when the child has exited (at once if it already has); undefined after `timeoutMs`. */
export function waitForExit(proc: ChildProcess, timeoutMs: number): Promise<ExitInfo | undefined> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode as NodeJS.Signals | null });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      proc.off('exit', onExit);
      resolve(undefined);
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ code, signal });
    };
    proc.once('exit', onExit);
  });
}

/**
 * Stops a child we spawned (detached, so it leads its own process group): `signal` to its pid, then after
 * `graceMs` SIGKILL to its process group (-pid), which also reaps children it forked and left behind.
 */
export async function stopProcess(
  proc: ChildProcess,
  { signal = 'SIGTERM', graceMs = 5_000 }: { signal?: NodeJS.Signals; graceMs?: number } = {},
): Promise<ExitInfo> {
  const pid = proc.pid;
  if (pid === undefined) return { code: proc.exitCode, signal: proc.signalCode as NodeJS.Signals | null };
  const already = await waitForExit(proc, 0);
  if (!already) signalPid(pid, signal);
  let info = already ?? (await waitForExit(proc, graceMs));
  if (!info) {
    killGroup(pid);
    info = (await waitForExit(proc, 5_000)) ?? { code: null, signal: 'SIGKILL' };
  }
  return info;
}

/** SIGKILL to the process group led by `pid` (our detached children), ignoring "already gone". */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw err;
  }
}

/** Spawns a long-running program in its own process group, collecting stdout+stderr into one string. */
export function spawnCollecting(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { proc: ChildProcess; output: () => string } {
  const proc = spawn(cmd, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: the SIGKILL fallback can reach grandchildren (nginx/apache workers)
  });
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.on('error', (err) => (out += `\n[spawn error] ${err.message}\n`));
  return { proc, output: () => out };
}
