// Shared by the control-*.test.ts and reload-*.test.ts files: run a control verb of the built CLI with a bound, start a
// supervisor on an app file copied into a temp dir (so tests can change its code between reloads), and ask it for one
// response. The supervisor process itself is test/helpers/supervisor.ts (stopped by pid).

import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APPS, CLI } from '../helpers/paths.js';
import { exchange, listenArg, parseResponse, request, type Target } from '../helpers/scgi-raw.js';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.js';
import { freePort, isAlive, signalPid } from '../helpers/frontends/process-utils.js';
import type { StatsSnapshot } from '../../src/stats-contract.js';
import { controlRequest } from '../../src/control/client.js';
import { controlPathFor } from '../../src/cli/control-options.js';

export { isAlive };

/** Polls `check` every `everyMs` until it returns something other than undefined; throws at the bound. */
export async function pollFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `node dist/src/cli/main.js <args>`, killed (by pid) and failed if it has not exited within `timeoutMs`. */
export function runCli(args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      signalPid(child.pid!, 'SIGKILL');
      reject(new Error(`scgi-supervise ${args.join(' ')} did not exit within ${timeoutMs}ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

export interface Supervised {
  sup: Supervisor;
  /** The master's pid. */
  pid: number;
  target: Target;
  /** The -l value: verbs given it find the control socket the way `start` made it. */
  listen: string;
  dir: string;
  /** The app file the supervisor runs (a copy; rewrite it with setVersion/useFixture). */
  appFile: string;
  /** The snapshot `stats --json -l <listen>` prints, asked in-process (no CLI process); a test of the verb uses verb(). */
  stats(): Promise<StatsSnapshot>;
  /** Runs a verb with `-l <listen>` appended. */
  verb(args: string[], timeoutMs?: number): Promise<CliResult>;
  /** Rewrites the app's VERSION line (ctl-versioned.cjs). */
  setVersion(version: string): Promise<void>;
  /** Replaces the app file with another fixture (e.g. ctl-load-error.cjs). */
  useFixture(name: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Starts `start <copy of APPS/ctl-versioned.cjs> -w N -l <tcp|unix>` and waits for `ready: N workers`. */
export async function startVersioned(options: {
  workers: number;
  kind?: 'tcp' | 'unix';
  /** Extra `start` arguments; a function gets the temp dir (e.g. for `--control <dir>/ctl/c.sock`). */
  args?: string[] | ((dir: string) => string[]);
}): Promise<Supervised> {
  const dir = await mkdtemp(join(tmpdir(), 'scgi-ctl-'));
  const appFile = join(dir, 'app.cjs');
  await copyFile(join(APPS, 'ctl-versioned.cjs'), appFile);
  const target: Target =
    (options.kind ?? 'unix') === 'unix' ? { kind: 'unix', path: join(dir, 'scgi.sock') } : { kind: 'tcp', host: '127.0.0.1', port: await freePort() };
  const listen = listenArg(target);
  let sup: Supervisor;
  try {
    const args = typeof options.args === 'function' ? options.args(dir) : options.args ?? [];
    sup = await startSupervisor({ app: appFile, workers: options.workers, listen, args });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const cleanup = async (): Promise<void> => {
    // SIGTERM so the master removes its control socket file; SIGKILL after 5 s (helpers/supervisor.ts).
    await sup.stop('SIGTERM', 5000);
    await rm(dir, { recursive: true, force: true });
  };
  const verb = (args: string[], timeoutMs?: number) => runCli([...args, '-l', listen], timeoutMs);
  return {
    sup,
    pid: sup.pid,
    target,
    listen,
    dir,
    appFile,
    verb,
    // The same control path and response the verb uses (cli/commands/stats.ts prints the response as is), without a
    // CLI process per call: tests poll this every 50 ms, and at ~0.45 s of CPU per `scgi-supervise stats` (node,
    // yargs, zod) a poll loop kept a core busy, which the concurrent test group (scripts/run-tests.mjs) cannot spare.
    stats: () => controlRequest<StatsSnapshot>(controlPathFor({ listen }), 'stats', {}, 15_000),
    // Written aside and renamed over the app file: a worker that (re)starts meanwhile reads the old or the new
    // code, never a half-written file.
    setVersion: async (version) => {
      const source = await readFile(join(APPS, 'ctl-versioned.cjs'), 'utf8');
      await writeFile(`${appFile}.tmp`, source.replace("const VERSION = 'v1';", `const VERSION = '${version}';`));
      await rename(`${appFile}.tmp`, appFile);
    },
    useFixture: async (name) => {
      await copyFile(join(APPS, name), `${appFile}.tmp`);
      await rename(`${appFile}.tmp`, appFile);
    },
    cleanup,
  };
}

/** One GET over raw SCGI; `{status, body}` or the way the connection ended. */
export async function get(target: Target, path = '/'): Promise<{ status: number; body: string }> {
  const o = await exchange(target, [request('GET', path)], { timeoutMs: 10_000 });
  if (o.ending !== 'fin' || o.data.length === 0) return { status: 0, body: `${o.ending}${o.errorCode ? ` ${o.errorCode}` : ''}` };
  const res = parseResponse(o.data);
  return { status: res.status, body: res.body.toString('utf8') };
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
