// Starts the built CLI's `start` verb as a real child process and waits for its `ready: N workers on ADDR` line,
// with bounded waits and cleanup by pid. Shared by the integration, lifecycle and front-end tests.
// Not an SCGI client (see scgi-raw.ts / the `request` verb) and not a front end (see frontends/*.ts).

import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { isAbsolute, join } from 'node:path';
import { APPS, CLI, ROOT } from './paths.js';
import {
  freePort,
  GiveUp,
  isAlive,
  killGroup,
  signalPid,
  spawnCollecting,
  stopProcess,
  waitFor,
  waitForExit,
  type ExitInfo,
} from './frontends/process-utils.js';

export type { ExitInfo };

export interface StartSupervisorOptions {
  /** App file: absolute, or relative to test/fixtures/apps. */
  app: string;
  /** `-w N`; default 2. */
  workers?: number;
  /** `-l ADDR` (`127.0.0.1:PORT`, `[::1]:PORT`, `unix:/path`); default 127.0.0.1 on a free ephemeral port. */
  listen?: string;
  /** Extra CLI arguments after the app, e.g. ['--graceful-timeout', '5']. */
  args?: string[];
  /** Added to process.env for the supervisor. */
  env?: NodeJS.ProcessEnv;
  /** Bound on the wait for the ready line; default 20 s. */
  readyTimeoutMs?: number;
  /** When given, `stop()` is registered with `t.after`, so the process is gone when the test ends. */
  t?: Pick<TestContext, 'after'>;
  /** Don't wait for the ready line (tests of start-up failures); `address` is then the listen argument. */
  noWait?: boolean;
  /** A command that execs the CLI, e.g. ['ip', 'netns', 'exec', 'ns1'] (it must exec: the pid stays the master's). */
  wrap?: string[];
}

export interface Supervisor {
  proc: ChildProcess;
  pid: number;
  /** As the ready line prints it: `127.0.0.1:4000`, `[::1]:4000` or `unix:/path`. */
  address: string;
  /** For net.connect / http.request: `{ host, port }` or `{ path }`. */
  connect: { host: string; port: number } | { path: string };
  /** Everything written to stdout and stderr so far. */
  logs(): string;
  /**
   * Resolves with the first match of `re` in the logs after character offset `since` (default 0; pass
   * `logs().length` to wait for a new line). Rejects after `timeoutMs` or when the process exits without a match.
   */
  waitForLog(re: RegExp, timeoutMs?: number, since?: number): Promise<RegExpMatchArray>;
  /** Worker pids seen in `worker <id> (pid <pid>) ready` lines, in order (latest per id last). */
  workerPids(): number[];
  /** Resolves with the exit info, or undefined after `timeoutMs`. */
  exited(timeoutMs: number): Promise<ExitInfo | undefined>;
  /** `signal` (default SIGTERM), SIGKILL to the group after `graceMs` (default 10 s); then kills leftover workers. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
}

const READY = /ready: (\d+) workers on (\S+)/;
const WORKER_READY = /worker (\d+) \(pid (\d+)\) ready/g;

export async function startSupervisor(options: StartSupervisorOptions): Promise<Supervisor> {
  const app = isAbsolute(options.app) ? options.app : join(APPS, options.app);
  const listen = options.listen ?? `127.0.0.1:${await freePort()}`;
  const args = [CLI, 'start', app, '-w', String(options.workers ?? 2), '-l', listen, ...(options.args ?? [])];
  const [file, ...wrapArgs] = [...(options.wrap ?? []), process.execPath];
  const { proc, output } = spawnCollecting(file!, [...wrapArgs, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
  });
  if (proc.pid === undefined) throw new Error(`could not spawn ${process.execPath} ${args.join(' ')}`);
  const pid = proc.pid;

  const workerPids = (): number[] => {
    const byId = new Map<string, number>();
    for (const m of output().matchAll(WORKER_READY)) byId.set(m[1], Number(m[2]));
    return [...byId.values()];
  };
  const seenWorkerPids = (): number[] => [...output().matchAll(WORKER_READY)].map((m) => Number(m[2]));

  const waitForLog = async (re: RegExp, timeoutMs = 10_000, since = 0): Promise<RegExpMatchArray> => {
    const flags = re.flags.replace('g', '');
    const once = new RegExp(re.source, flags);
    try {
      return await waitFor(`log line ${re}`, () => {
        const m = output().slice(since).match(once);
        if (m) return m;
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new GiveUp(`supervisor exited (code ${proc.exitCode}, signal ${proc.signalCode}) without it`);
        }
        return undefined;
      }, { timeoutMs, intervalMs: 25 });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- supervisor output ---\n${output()}`);
    }
  };

  let stopping: Promise<ExitInfo> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ExitInfo> => {
    stopping ??= (async () => {
      const info = await stopProcess(proc, { signal, graceMs });
      // Workers exit by themselves when the master dies; give them a bound, then kill what is left (by pid).
      const left = seenWorkerPids().filter(isAlive);
      if (left.length > 0) {
        await waitFor('workers to exit after the master', () => seenWorkerPids().every((p) => !isAlive(p)), {
          timeoutMs: 3_000,
        }).catch(() => {
          for (const p of seenWorkerPids()) if (isAlive(p)) signalPid(p, 'SIGKILL');
          killGroup(pid);
        });
      }
      return info;
    })();
    return stopping;
  };
  options.t?.after(async () => {
    await stop();
  });

  let address = listen;
  if (!options.noWait) {
    try {
      const m = await waitForLog(READY, options.readyTimeoutMs ?? 20_000);
      address = m[2];
    } catch (err) {
      await stop('SIGKILL', 1_000);
      throw err;
    }
  }
  return {
    proc,
    pid,
    address,
    connect: connectTarget(address),
    logs: output,
    waitForLog,
    workerPids,
    exited: (timeoutMs) => waitForExit(proc, timeoutMs),
    stop,
  };
}

/** `127.0.0.1:4000` → { host, port }; `[::1]:4000` → { host: '::1', port }; `unix:/p` → { path }. */
export function connectTarget(address: string): { host: string; port: number } | { path: string } {
  if (address.startsWith('unix:')) return { path: address.slice('unix:'.length) };
  const colon = address.lastIndexOf(':');
  let host = address.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(address.slice(colon + 1)) };
}
