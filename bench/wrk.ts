// Runs wrk (Debian's, keep-alive to nginx as wrk does by default) and parses its --latency report; wrk's own CPU
// time comes from the wrapping shell's cutime/cstime after it has waited for wrk. Not the aggregation (report.ts).

import { spawn } from 'node:child_process';
import { CLK_TCK, parseStat } from './proc-stats.js';
import { HELPER_GROUPS } from './process-group.js';

export const WRK = '/usr/bin/wrk';

export interface WrkOptions {
  url: string;
  connections: number;
  durationS: number;
  threads?: number;
  script?: string; // Lua script path (the 64 KiB POST)
}

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: number; // connect + read + write + timeout
  wrkCpuS: number;
  raw: string;
}

export function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = ['-t' + (options.threads ?? 1), '-c' + options.connections, '-d' + options.durationS + 's', '--latency'];
  if (options.script) args.push('-s', options.script);
  args.push(options.url);
  // `read` is a shell builtin, so /proc/$$/stat is the shell's own: its cutime/cstime hold wrk's CPU once waited for.
  const script = 'wrk "$@"; rc=$?; read s < /proc/$$/stat; echo "BENCH_STAT $s"; exit $rc';
  return new Promise((resolve, reject) => {
    // Its own process group, so a Ctrl-C cleanup stops wrk and not only its shell.
    const child = spawn('/bin/sh', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pgid = child.pid;
    if (pgid !== undefined) HELPER_GROUPS.add(pgid);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    const timer = setTimeout(() => {
      try {
        if (pgid !== undefined) process.kill(-pgid, 'SIGKILL');
      } catch {
        // ESRCH: already gone
      }
    }, (options.durationS + 30) * 1000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (pgid !== undefined) HELPER_GROUPS.delete(pgid);
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${err.trim() || out.trim()}`));
      try {
        resolve(parseWrk(out));
      } catch (error) {
        reject(error);
      }
    });
  });
}

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp, fallback?: number): number => {
    const m = out.match(re);
    if (!m) {
      if (fallback !== undefined) return fallback;
      throw new Error(`cannot parse wrk output (${re}):\n${out}`);
    }
    return Number(m[1]);
  };
  const statLine = out.match(/^BENCH_STAT (.*)$/m);
  const stat = statLine ? parseStat(statLine[1]!) : undefined;
  const socket = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    requests: num(/^\s*(\d+) requests in/m),
    rps: num(/^Requests\/sec:\s+([\d.]+)/m),
    p50Ms: toMs(out.match(/^\s+50%\s+([\d.]+\w+)/m)?.[1]),
    p99Ms: toMs(out.match(/^\s+99%\s+([\d.]+\w+)/m)?.[1]),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/, 0),
    socketErrors: socket ? socket.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0,
    wrkCpuS: stat ? (stat.cutime + stat.cstime) / CLK_TCK : NaN,
    raw: out.replace(/^BENCH_STAT .*\n?/m, ''),
  };
}

function toMs(text: string | undefined): number {
  if (text === undefined) return NaN;
  const m = text.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) return NaN;
  const value = Number(m[1]);
  return m[2] === 'us' ? value / 1000 : m[2] === 'ms' ? value : m[2] === 's' ? value * 1000 : value * 60_000;
}
