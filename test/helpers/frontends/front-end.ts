// What every front-end runner (nginx.ts, lighttpd.ts, apache.ts) returns, and the shared start-up sequence:
// render a config into a 0755 temp dir, spawn the real Debian binary in the foreground, wait (bounded) until it
// answers HTTP on every port, stop it by pid (SIGTERM, then SIGKILL) and remove the dir. Not an HTTP client
// (http-client.ts) and not the SCGI backend (../supervisor.ts or scgi-echo-server.ts).

import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { TestContext } from 'node:test';
import { freePort, GiveUp, makeTempDir, removeDir, spawnCollecting, stopProcess, waitFor } from './process-utils.js';

export type FrontEndName = 'nginx' | 'lighttpd' | 'apache';
export type Transport = 'tcp' | 'tcp6' | 'unix';
export const TRANSPORTS: Transport[] = ['tcp', 'tcp6', 'unix'];

/** Where the front end sends SCGI: one HTTP port per backend given. */
export interface Backends {
  tcp?: { host: string; port: number };
  tcp6?: { host: string; port: number }; // host '::1'
  unix?: string; // absolute socket path
}

export interface FrontEndOptions {
  backends: Backends;
  /** When given, stop() is registered with t.after. */
  t?: Pick<TestContext, 'after'>;
  /** Bound on the wait until it answers; default 15 s. */
  readyTimeoutMs?: number;
}

export interface FrontEnd {
  name: FrontEndName;
  version: string;
  dir: string;
  pid: number;
  /** 127.0.0.1 HTTP port that forwards to each backend given (same URL space on both). */
  ports: Partial<Record<Transport, number>>;
  /** The front end's error log file plus what it wrote to stdout/stderr. */
  errorLog(): string;
  stop(): Promise<void>;
}

export interface Rendered {
  /** Files to write into the temp dir (relative name → content), e.g. the config. */
  files: Record<string, string>;
  /** Argument vector after the binary. */
  args: string[];
  /** Relative name of the error log inside the dir. */
  errorLogFile: string;
}

export interface RunnerSpec {
  name: FrontEndName;
  binary: string;
  /** How to install it, for the "missing binary" error. */
  debianPackage: string;
  version: string;
  /** Creates any subdirectories (with owners) the config needs, then returns the files and argv. */
  render(dir: string, ports: Partial<Record<Transport, number>>, backends: Backends): Promise<Rendered>;
}

/** The user front-end workers run as when we are root: the realistic case for Unix socket permissions. */
export const RUN_AS = 'www-data';
export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

export async function runFrontEnd(spec: RunnerSpec, options: FrontEndOptions): Promise<FrontEnd> {
  if (!existsSync(spec.binary)) {
    // Never a skip: a test that cannot run must fail (STYLE.md, Tests).
    throw new Error(`${spec.name}: ${spec.binary} is missing; install it: apt-get install -y ${spec.debianPackage}`);
  }
  const ports: Partial<Record<Transport, number>> = {};
  for (const t of TRANSPORTS) if (options.backends[t]) ports[t] = await freePort();
  if (Object.keys(ports).length === 0) throw new Error(`${spec.name}: no backend given`);

  const dir = await makeTempDir(spec.name);
  const { writeFile } = await import('node:fs/promises');
  const rendered = await spec.render(dir, ports, options.backends);
  for (const [name, content] of Object.entries(rendered.files)) await writeFile(`${dir}/${name}`, content);
  const { proc, output } = spawnCollecting(spec.binary, rendered.args, { cwd: dir });
  const errorLog = (): string => {
    let text = '';
    try {
      text = readFileSync(`${dir}/${rendered.errorLogFile}`, 'utf8');
    } catch {
      // not created yet
    }
    const out = output();
    return out === '' ? text : `${text}\n--- stdout/stderr ---\n${out}`;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await stopProcess(proc, { signal: 'SIGTERM', graceMs: 5_000 });
      await removeDir(dir);
    })();
    return stopping;
  };
  options.t?.after(stop);

  try {
    for (const port of Object.values(ports)) {
      await waitFor(
        `${spec.name} to answer HTTP on 127.0.0.1:${port}`,
        async () => {
          if (proc.exitCode !== null || proc.signalCode !== null) {
            throw new GiveUp(`${spec.name} exited (code ${proc.exitCode}, signal ${proc.signalCode})`);
          }
          return (await probeHttp(port)) ? true : undefined;
        },
        { timeoutMs: options.readyTimeoutMs ?? 15_000, intervalMs: 50 },
      );
    }
  } catch (err) {
    const log = errorLog();
    await stop();
    throw new Error(`${(err as Error).message}\n--- ${spec.name} config ---\n${Object.values(rendered.files).join('\n')}\n--- ${spec.name} log ---\n${log}`);
  }
  return { name: spec.name, version: spec.version, dir, pid: proc.pid!, ports, errorLog, stop };
}

/**
 * Lines of a front end's error log that report a problem (with the backend or otherwise): nginx and Apache at
 * level error or worse; lighttpd has no levels, so every line except start/stop notices. Buffering notices
 * (nginx "[warn] … buffered to a temporary file") are not problems.
 */
export function problemLines(name: FrontEndName, log: string): string[] {
  const lines = log.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('---'));
  switch (name) {
    case 'nginx':
      return lines.filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
    case 'apache':
      return lines.filter((l) => /:(error|crit|alert|emerg)\]/.test(l));
    case 'lighttpd':
      return lines.filter((l) => !/server (started|stopped|shutdown)|logfiles cycled/.test(l));
    default: {
      const never: never = name;
      return [String(never)];
    }
  }
}

/** True once anything answers with an HTTP status line (a 404 or 502 counts: the front end itself is up). */
function probeHttp(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/__frontend_probe', method: 'GET', agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(true));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
    req.end();
  });
}
