// wrk as the load tests run it: one thread, N connections, a fixed duration; bounded by a kill by pid.

import { spawn } from 'node:child_process';

/** `wrk -t1 -c<connections> -d<s>s URL`; resolves with its whole output (it prints "Non-2xx or 3xx responses" and
 *  "Socket errors" lines only when there were any). Bounded: killed by pid after the duration plus a margin. */
export function runWrk(url: string, seconds: number, connections: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
    child.on('error', reject); // ENOENT: wrk is missing, and the test must fail, not skip
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk exited ${code}: ${out}`));
      else resolve(out);
    });
  });
}
