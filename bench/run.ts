// `npm run bench`: the product beside a bare Node SCGI server (shared handle and round-robin), uWSGI and (given a
// copy) flup, all behind ONE nginx with wrk, in interleaved rounds (each round runs every backend once, order
// rotated) so drift hits all alike. Prints a Markdown table, writes bench/results/latest.{json,md} and
// docs/benchmarks.svg. Options: --full, --rounds N, --duration S, --warmup S, --only a,b, --flup DIR,
// --no-lifecycle, --nice N, --out NAME (bench/results/NAME.*), --docs (rewrite the results section of docs/benchmarks.md),
// --baseline REF (the product at another commit, built aside, as one more backend: before/after in one run),
// --scrape-metrics (the product serves --metrics-listen and is scraped once a second throughout). See docs/benchmarks.md.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { get as httpGet } from 'node:http';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_BACKENDS, CLI, FULL_SHAPES, POST_BYTES, QUICK_SHAPES, ROOT, expectedBody, missingPackages, startBackend, type BackendName, type Shape } from './backends.js';
import { renderChart } from './chart-svg.js';
import { checkBody } from './check-body.js';
import { measureReload, measureRespawn } from './lifecycle.js';
import { describeMachine } from './machine.js';
import { prepareBaseline } from './baseline.js';
import { measure, type Sample } from './measure.js';
import { startNginx, type Route } from './nginx.js';
import { cleanup, installCleanup, type ProcessGroup } from './process-group.js';
import { renderLifecycle, renderTables, type Excluded, type Lifecycle } from './report.js';
import { median, summarize } from './summary.js';
import { readStat, rssKiB } from './proc-stats.js';

const OPTIONS = {
  full: { type: 'boolean', default: false },
  rounds: { type: 'string', default: '3' },
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '1' },
  only: { type: 'string' },
  flup: { type: 'string' },
  'no-lifecycle': { type: 'boolean', default: false },
  docs: { type: 'boolean', default: false },
  nice: { type: 'string' },
  out: { type: 'string', default: 'latest' },
  baseline: { type: 'string' },
  'scrape-metrics': { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

function parseOptions() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message.split('\n')[0]} (use --name=value for a negative value)\n`);
    process.exit(2);
  }
}
const opts = parseOptions();

if (opts.help) {
  process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split('\n').slice(0, 5).join('\n') + '\n');
  process.exit(0);
}

const rounds = positive('rounds', opts.rounds);
const durationS = positive('duration', opts.duration);
const warmupS = Number(opts.warmup);
const shapes: Shape[] = opts.full ? FULL_SHAPES : QUICK_SHAPES;
const notes: string[] = [];

let selected: BackendName[] = ALL_BACKENDS;
if (opts.only) {
  const wanted = opts.only.split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !ALL_BACKENDS.includes(w as BackendName));
  if (unknown.length > 0) fail(`unknown backend(s) ${unknown.join(', ')}; choose from ${ALL_BACKENDS.join(', ')}`);
  selected = wanted as BackendName[];
}
// The baseline runs only when asked for (it needs a ref to build); asking for it adds it to the selection.
if (opts.baseline && !selected.includes('baseline')) selected = [...selected, 'baseline'];
if (!opts.baseline && selected.includes('baseline')) {
  if (opts.only) fail('the baseline backend needs --baseline REF (a commit, branch or tag to compare with)');
  selected = selected.filter((b) => b !== 'baseline');
}
if (selected.includes('flup') && !opts.flup) {
  selected = selected.filter((b) => b !== 'flup');
  notes.push('flup not measured: it is not packaged for Debian 12 and only the npm and Debian registries are reachable; pass --flup DIR (a directory holding flup/server/scgi_fork.py) to include it');
}
const missing = missingPackages(selected);
if (missing.length > 0) fail(`missing Debian packages: ${missing.join(', ')}; install them with: apt-get install -y ${missing.join(' ')}`);
if (selected.some((b) => b.startsWith('product')) && !existsSync(CLI)) fail(`${CLI} not found; run npm run build first (npm run bench does)`);

function positive(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number, got ${text}`);
  return n;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function backendsFor(shape: Shape): BackendName[] {
  const order: BackendName[] = ['product', 'baseline', 'product-express', 'product-fetch', 'bare-shared', 'bare-rr', 'uwsgi', 'flup'];
  return order.filter((b) => selected.includes(b) && (shape.variants || (b !== 'product-express' && b !== 'product-fetch')));
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<void> {
  installCleanup();
  if (opts.nice !== undefined) {
    // Everything the bench starts inherits this priority: on a shared machine it keeps other work from skewing one
    // backend's run more than another's (it does not make the machine quieter). Negative values need root.
    os.setPriority(Number(opts.nice));
    notes.push(`ran at nice ${os.getPriority()} (--nice), inherited by nginx, wrk and every backend`);
  }
  const baselineRoot = opts.baseline ? prepareBaseline(opts.baseline, ROOT, log) : undefined;
  if (baselineRoot) notes.push(`baseline: ${opts.baseline} (${baselineRoot.split('-').pop()}), built aside and run with the same flags, app and load as product`);
  // Issue 15: the product's cost with a Prometheus scrape every second, beside a baseline that has no endpoint.
  const metricsPort = opts['scrape-metrics'] ? await freePort() : null;
  let scrapes = 0;
  const scraper =
    metricsPort === null
      ? null
      : setInterval(() => {
          const req = httpGet({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
            res.resume();
            if (res.statusCode === 200) scrapes++;
          });
          req.on('error', () => undefined); // between the product's runs nothing listens
        }, 1000);
  const tmp = mkdtempSync(join(tmpdir(), 'scgi-bench-'));
  // One backend port and one nginx port per backend name, fixed for the whole run (backends restart per shape on
  // the same port; SO_REUSEADDR makes that fine), plus a pair for the lifecycle measurements.
  const names = [...selected, 'lifecycle'] as const;
  const ports = new Map<string, Route>();
  for (const name of names) ports.set(name, { listenPort: await freePort(), backendPort: await freePort() });
  const nginx = await startNginx(join(tmp, 'nginx'), [...ports.values()]);
  log(`nginx ${nginx.pid} up; ${shapes.length} shape(s) x ${rounds} round(s) x ${durationS}s (+${warmupS}s warm-up each)`);

  const samples: Sample[] = [];
  const excluded: Excluded[] = [];
  const idleRssKiB = new Map<string, number[]>(); // shape + backend → each worker's RSS after start, before any load
  try {
    for (const shape of shapes) {
      const running = new Map<BackendName, ProcessGroup>();
      const expected = { method: shape.app === 'post' ? ('POST' as const) : ('GET' as const), body: expectedBody(shape.app), requestBody: shape.app === 'post' ? Buffer.alloc(POST_BYTES, 'a') : undefined };
      for (const name of backendsFor(shape)) {
        const route = ports.get(name)!;
        let group: ProcessGroup | undefined;
        try {
          const productArgs = name === 'product' && metricsPort !== null ? ['--metrics-listen', `127.0.0.1:${metricsPort}`] : undefined;
          group = await startBackend(name, { port: route.backendPort, shape, flupDir: opts.flup, baselineRoot, productArgs });
          const wrong = await checkBody(route.listenPort, expected);
          if (wrong !== undefined) throw new Error(`wrong answer through nginx: ${wrong}`);
          running.set(name, group);
          const tree = group.tree();
          idleRssKiB.set(shape.name + '\u0000' + name, tree.slice(1).filter((pid) => readStat(pid)?.ppid === tree[0]).map(rssKiB));
        } catch (error) {
          await group?.stop();
          const reason = (error as Error).message;
          excluded.push({ shape: shape.name, backend: name, reason });
          log(`[${shape.name}] ${name} EXCLUDED: ${reason}`);
        }
      }
      const order = [...running.keys()];
      for (let round = 0; round < rounds; round++) {
        const rotated = order.map((_, i) => order[(i + round) % order.length]!);
        for (const name of rotated) {
          const sample = await measure({
            shape: shape.name,
            backend: name,
            round,
            group: running.get(name)!,
            nginx,
            url: `http://127.0.0.1:${ports.get(name)!.listenPort}/`,
            connections: shape.connections,
            durationS,
            warmupS,
            script: shape.app === 'post' ? join(ROOT, 'bench', 'post-64k.lua') : undefined,
          });
          samples.push(sample);
          const errors = sample.non2xx + sample.socketErrors;
          log(`[${shape.name}] round ${round + 1}/${rounds} ${name}: ${sample.rps.toFixed(0)} req/s, p99 ${sample.p99Ms.toFixed(2)} ms, errors ${errors}, CPU backend ${sample.cpuBackendS.toFixed(1)}s nginx ${sample.cpuNginxS.toFixed(1)}s wrk ${sample.cpuWrkS.toFixed(1)}s other ${sample.cpuOtherS.toFixed(1)}s`);
        }
      }
      await Promise.all([...running.values()].map((g) => g.stop()));
    }

    if (scraper) {
      clearInterval(scraper);
      notes.push(`product served --metrics-listen and answered ${scrapes} scrapes (one a second, for the whole run)`);
    }
    const lifecycle: Lifecycle = { notes };
    const summaries = summarize(samples);
    const productHello = summaries.find((s) => s.shape === shapes[0]!.name && s.backend === 'product');
    const bareHello = summaries.find((s) => s.shape === shapes[0]!.name && s.backend === 'bare-shared');
    if (productHello && bareHello) {
      const delta = productHello.rssWorkerMiB - bareHello.rssWorkerMiB;
      const idle = (name: string) => median(idleRssKiB.get(shapes[0]!.name + '\u0000' + name) ?? []) / 1024;
      lifecycle.workerRssMiB = { product: productHello.rssWorkerMiB, bare: bareHello.rssWorkerMiB, deltaMiB: delta, productIdle: idle('product'), bareIdle: idle('bare-shared'), targetMiB: 5 };
    }
    const productRan = productHello !== undefined;
    if (!opts['no-lifecycle'] && productRan) {
      const route = ports.get('lifecycle')!;
      try {
        log('lifecycle: kill -9 → ready');
        lifecycle.respawnMs = await measureRespawn(route.backendPort);
      } catch (error) {
        notes.push(`respawn not measured: ${(error as Error).message.split('\n')[0]}`);
      }
      lifecycle.reload = [];
      log('lifecycle: rolling reload of 8 workers without load, --reload-surge 1');
      lifecycle.reload.push(await measureReload(route.backendPort, route.listenPort, 1, 8, false));
      for (const surge of [1, 4]) {
        log(`lifecycle: rolling reload of 8 workers, --reload-surge ${surge}`);
        lifecycle.reload.push(await measureReload(route.backendPort, route.listenPort, surge));
      }
    } else if (!productRan && selected.includes('product')) {
      notes.push('product did not run, so worker RSS, respawn and reload were not measured');
    }

    const machine = describeMachine(ROOT);
    const header =
      `Machine: ${machine.cpuModel}, ${machine.nproc} CPUs, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; node ${machine.node}, nginx ${machine.nginx}, ${machine.uwsgi.startsWith('2') ? 'uWSGI ' + machine.uwsgi : machine.uwsgi}, ${machine.wrk}; commit ${machine.gitCommit}; ${machine.date}.\n` +
      `Method: one nginx (worker_processes 1, scgi_pass, stock scgi_params), wrk -t1 -d${durationS}s --latency (keep-alive to nginx), ${rounds} interleaved round(s), ${warmupS}s warm-up before each run; medians across rounds.\n`;
    const markdown = `${header}\n${renderTables(summaries, excluded)}\n${renderLifecycle(lifecycle)}`;
    process.stdout.write(markdown);

    const resultsDir = join(ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const options = { full: opts.full, rounds, durationS, warmupS, backends: selected, shapes };
    const out = opts.out.replace(/[^\w.-]/g, '_');
    writeFileSync(join(resultsDir, `${out}.json`), JSON.stringify({ machine, options, summaries, excluded, lifecycle, samples }, null, 2) + '\n');
    writeFileSync(join(resultsDir, `${out}.md`), markdown);
    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    // The docs' chart is the default run's; a named run (--out) keeps its chart beside its results.
    const svgPath = out === 'latest' ? join(ROOT, 'docs', 'benchmarks.svg') : join(resultsDir, `${out}.svg`);
    writeFileSync(svgPath, renderChart(summaries, `scgi-supervise and its peers through one nginx worker (wrk, median of ${rounds} rounds)`));
    if (opts.docs) updateDocs(markdown);
    log(`wrote bench/results/${out}.json, bench/results/${out}.md, ${svgPath}`);
  } finally {
    await nginx.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Replaces the text between the results markers of docs/benchmarks.md with `markdown`. */
function updateDocs(markdown: string): void {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    log(`--docs: no ${start} … ${end} markers in docs/benchmarks.md; left it alone`);
    return;
  }
  writeFileSync(path, text.slice(0, a + start.length) + '\n' + markdown + '\n' + text.slice(b));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (cleanup.interrupted) return; // the signal handler stops everything and exits
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
    // installCleanup's 'exit' hook SIGKILLs whatever is still running.
    process.exit(1);
  },
);
