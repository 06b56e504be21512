// `node dist/bench/profile.js`: where a worker's time goes. Runs each backend (default product and bare-shared) behind
// the bench's nginx with node --cpu-prof (inherited by the workers through execArgv), loads it with wrk, stops it with SIGTERM so the workers write their
// profiles, and prints self time per request-path category and per function (cpu-profile-summary.ts), in µs per
// request. Options: --duration S (10), --connections N (32), --workers N (2), --only a,b, --interval US (500),
// --top N (20), --keep (leave the .cpuprofile files and print their directory). Not the throughput bench (run.ts).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startBackend, type BackendName, type Shape } from './backends.js';
import { analyze, merge, renderFigures, type CpuProfile } from './cpu-profile-summary.js';
import { startNginx } from './nginx.js';
import { installCleanup } from './process-group.js';
import { runWrk } from './wrk.js';
import { cpuDelta, cpuSeconds } from './proc-stats.js';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    workers: { type: 'string', default: '2' },
    only: { type: 'string', default: 'product,bare-shared' },
    interval: { type: 'string', default: '500' },
    top: { type: 'string', default: '20' },
    keep: { type: 'boolean', default: false },
  },
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function main(): Promise<void> {
  installCleanup();
  const tmp = mkdtempSync(join(tmpdir(), 'scgi-profile-'));
  const listenPort = await freePort();
  const backendPort = await freePort();
  const nginx = await startNginx(join(tmp, 'nginx'), [{ listenPort, backendPort }]);
  const shape: Shape = { name: 'profile', app: 'hello', connections: Number(opts.connections), workers: Number(opts.workers), variants: false };
  const out: string[] = [];
  try {
    for (const name of opts.only!.split(',') as BackendName[]) {
      const dir = join(tmp, name);
      mkdirSync(dir);
      const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${opts.interval}`];
      const group = await startBackend(name, { port: backendPort, shape, nodeArgs });
      const leader = group.pid;
      const workerPids = group.tree().slice(1);
      await runWrk({ url: `http://127.0.0.1:${listenPort}/`, connections: shape.connections, durationS: 2 }); // warm-up
      const before = cpuSeconds(group.tree().slice(1));
      const wrk = await runWrk({ url: `http://127.0.0.1:${listenPort}/`, connections: shape.connections, durationS: Number(opts.duration) });
      const cpuUsPerRequest = (cpuDelta(before, cpuSeconds(group.tree().slice(1))) / wrk.requests) * 1e6;
      await group.stop('SIGTERM', 15_000);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
      // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile: keep the workers' (not the master's) profiles.
      const workerFiles = files.filter((f) => {
        const pid = Number(f.split('.')[3]);
        return pid !== leader && (workerPids.length === 0 || workerPids.includes(pid));
      });
      if (workerFiles.length === 0) {
        out.push(`#### ${name}: no worker profile written (files: ${files.join(', ') || 'none'}); do its workers exit normally on SIGTERM?\n`);
        continue;
      }
      // The profiles span warm-up + run + stop; scale requests to the whole span by the measured rate.
      const figures = workerFiles.map((f) => analyze(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile));
      const merged = merge(figures);
      out.push(renderFigures(name, merged, cpuUsPerRequest, Number(opts.top)));
      out.push(`(${wrk.rps.toFixed(0)} req/s under the profiler, ${wrk.requests} requests in ${opts.duration} s; ${workerFiles.length} worker profiles, which also cover the 2 s warm-up)\n`);
      if (opts.keep) out.push(`profiles kept in ${dir}\n`);
    }
  } finally {
    await nginx.stop();
    if (!opts.keep) rmSync(tmp, { recursive: true, force: true });
  }
  const text = out.join('\n');
  process.stdout.write(text);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'profile.md'), text);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`profile: failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
