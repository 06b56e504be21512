// What routing the app's output through the master costs (issue 14 item 5): an app that logs one line per request
// (test/fixtures/apps/bench-log.cjs), behind nginx, under wrk, in interleaved rounds of:
//   routed     this checkout: the workers' stdout is a pipe the master reads and re-prints (json or text)
//   quiet      this checkout, the same app without the log line (what the line itself costs)
//   baseline   with --baseline REF (a commit before the routing, e.g. 5ef7b1c): the same logging app, the workers
//              writing straight into the inherited stdout (no master in the path)
// Prints req/s per backend and round, the medians, routed ÷ baseline, and the master's CPU per request when routed.
// The supervisor's stdout is a pipe this script drains in every case. Not part of `npm run bench` (bench/run.ts).
//
//   npm run build && node dist/bench/app-output.js [--baseline 5ef7b1c] [--rounds 3] [--seconds 10] [-c 32] [-w 2]
//                                                  [--log-format json|text]

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './backends.js';
import { prepareBaseline } from './baseline.js';
import { startNginx } from './nginx.js';
import { ProcessGroup, installCleanup, stopAll } from './process-group.js';
import { cpuSeconds } from './proc-stats.js';
import { runWrk } from './wrk.js';

type Backend = 'routed' | 'quiet' | 'baseline';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

const rounds = Number(arg('--rounds', '3'));
const seconds = Number(arg('--seconds', '10'));
const connections = Number(arg('-c', '32'));
const workers = arg('-w', '2');
const format = arg('--log-format', 'json');
const baselineRef = arg('--baseline', '');

const APPS = join(ROOT, 'test', 'fixtures', 'apps');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  installCleanup();
  const backends: Backend[] = ['routed', 'quiet'];
  let baselineRoot = '';
  if (baselineRef !== '') {
    baselineRoot = prepareBaseline(baselineRef, ROOT, (l) => console.error(l));
    backends.push('baseline');
  }
  const ports = new Map<Backend, { backend: number; front: number }>();
  for (const b of backends) ports.set(b, { backend: await freePort(), front: await freePort() });
  const dir = mkdtempSync(join(tmpdir(), 'scgi-bench-output-'));
  const nginx = await startNginx(join(dir, 'nginx'), [...ports.values()].map((p) => ({ listenPort: p.front, backendPort: p.backend })));
  const results = new Map<Backend, number[]>(backends.map((b) => [b, []]));
  const masterUsPerReq: number[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const b of backends) {
        const root = b === 'baseline' ? baselineRoot : ROOT;
        const app = join(APPS, b === 'quiet' ? 'bench-hello.cjs' : 'bench-log.cjs'); // this checkout's fixture for all
        const args = [join(root, 'dist', 'src', 'cli', 'main.js'), 'start', app, '-w', workers, '-l', `127.0.0.1:${ports.get(b)!.backend}`, '--log-format', format];
        const sup = new ProcessGroup(b, process.execPath, args, { cwd: root });
        try {
          await sup.waitForLine(/ready: \d+ workers on /, 20_000);
          await runWrk({ url: `http://127.0.0.1:${ports.get(b)!.front}/`, connections, durationS: 1 }); // warm-up
          const before = cpuSeconds([sup.pid]);
          const r = await runWrk({ url: `http://127.0.0.1:${ports.get(b)!.front}/`, connections, durationS: seconds });
          const masterS = cpuSeconds([sup.pid]).get(sup.pid)! - before.get(sup.pid)!;
          if (r.non2xx > 0 || r.socketErrors > 0) console.error(`${b}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors`);
          results.get(b)!.push(r.rps);
          if (b === 'routed') masterUsPerReq.push((masterS * 1e6) / r.requests);
          console.log(`round ${round} ${b.padEnd(8)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99Ms.toFixed(2)} ms  master CPU ${((masterS * 1e6) / r.requests).toFixed(1)} us/req`);
        } finally {
          await sup.stop();
        }
      }
    }
  } finally {
    await nginx.stop();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const m = new Map([...results].map(([b, xs]) => [b, median(xs)]));
  console.log(`\nmedian req/s (${rounds} rounds of ${seconds}s, c${connections}, w${workers}, --log-format ${format}):`);
  for (const [b, v] of m) console.log(`  ${b.padEnd(8)} ${v.toFixed(0)}`);
  console.log(`  routed ÷ quiet     ${(m.get('routed')! / m.get('quiet')!).toFixed(3)}  (the log line and its routing)`);
  if (m.has('baseline')) console.log(`  routed ÷ baseline  ${(m.get('routed')! / m.get('baseline')!).toFixed(3)}  (the routing alone)`);
  console.log(`  master CPU when routed: ${median(masterUsPerReq).toFixed(1)} us per request (one line each)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
