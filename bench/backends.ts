// The backends bench/run.ts compares, and the shapes (load and app) it measures them in: how each is started on a
// loopback port with N workers, when it is ready, and what body it must answer. Not the measuring (run.ts, measure.ts).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessGroup } from './process-group.js';

export const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..'); // dist/bench → repo
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const APPS = join(ROOT, 'test', 'fixtures', 'apps');
const BENCH_SRC = join(ROOT, 'bench');
export const UWSGI = '/usr/bin/uwsgi';
export const UWSGI_PY3 = '/usr/lib/uwsgi/plugins/python3_plugin.so';

export type AppKind = 'hello' | 'post' | 'big';

export interface Shape {
  name: string; // e.g. 'hello c32 w2'
  app: AppKind;
  connections: number;
  workers: number;
  variants: boolean; // also run product-express and product-fetch
}

export type BackendName = 'product' | 'baseline' | 'product-express' | 'product-fetch' | 'bare-shared' | 'bare-rr' | 'uwsgi' | 'flup';
export const ALL_BACKENDS: BackendName[] = ['product', 'baseline', 'product-express', 'product-fetch', 'bare-shared', 'bare-rr', 'uwsgi', 'flup'];

export const HELLO = Buffer.from('Hello, world!\n'); // 14 bytes
export const BIG_BYTES = 1024 * 1024;
export const POST_BYTES = 64 * 1024;

export function expectedBody(app: AppKind): Buffer {
  return app === 'big' ? Buffer.alloc(BIG_BYTES, 'x') : HELLO;
}

export interface StartContext {
  port: number;
  shape: Shape;
  flupDir?: string;
  nodeEnv?: NodeJS.ProcessEnv; // added to the Node backends' env
  productArgs?: string[]; // extra `start` flags, e.g. --reload-surge 4
  nodeArgs?: string[]; // node flags before the script, e.g. --cpu-prof (not allowed in NODE_OPTIONS); workers inherit execArgv
  baselineRoot?: string; // a built checkout of another commit (baseline.ts), for the 'baseline' backend
}

/** Starts a backend and resolves once it says it is ready (or rejects with its log tail). */
export async function startBackend(name: BackendName, ctx: StartContext): Promise<ProcessGroup> {
  const { port, shape } = ctx;
  const workers = String(shape.workers);
  let group: ProcessGroup;
  let ready: RegExp;
  switch (name) {
    case 'product':
    case 'baseline':
    case 'product-express':
    case 'product-fetch': {
      const app = name === 'product-express' ? 'bench-express.cjs' : name === 'product-fetch' ? 'bench-fetch.mjs' : shape.app === 'big' ? 'bench-big.cjs' : 'bench-hello.cjs';
      // The baseline is the same product at another commit: its own CLI and fixtures, the same flags and load.
      if (name === 'baseline' && !ctx.baselineRoot) throw new Error('baseline needs --baseline REF');
      const root = name === 'baseline' ? ctx.baselineRoot! : ROOT;
      const cli = join(root, 'dist', 'src', 'cli', 'main.js');
      group = new ProcessGroup(name, process.execPath, [...(ctx.nodeArgs ?? []), cli, 'start', join(root, 'test', 'fixtures', 'apps', app), '-w', workers, '-l', `127.0.0.1:${port}`, ...(ctx.productArgs ?? [])], {
        env: { ...process.env, ...ctx.nodeEnv },
        cwd: root,
      });
      ready = /ready: \d+ workers on /; // stable log line (RULES.md)
      break;
    }
    case 'bare-shared':
    case 'bare-rr': {
      const args = [...(ctx.nodeArgs ?? []), join(ROOT, 'dist', 'bench', 'bare-server.js'), String(port), workers];
      if (shape.app === 'big') args.push(String(BIG_BYTES));
      const policy = name === 'bare-shared' ? 'none' : 'rr';
      group = new ProcessGroup(name, process.execPath, args, { env: { ...process.env, ...ctx.nodeEnv, NODE_CLUSTER_SCHED_POLICY: policy } });
      ready = /ready: \d+ workers on /;
      break;
    }
    case 'uwsgi': {
      const args = ['--plugin', 'python3', '--scgi-socket', `127.0.0.1:${port}`, '--processes', workers, '--master', '--wsgi-file', join(BENCH_SRC, 'hello_wsgi.py'), '--disable-logging', '--die-on-term', '--need-app'];
      group = new ProcessGroup(name, UWSGI, args, { env: bodyEnv(shape) });
      ready = new RegExp(`spawned uWSGI worker ${shape.workers} `); // the last worker forked (the app is loaded before)
      break;
    }
    case 'flup': {
      if (!ctx.flupDir) throw new Error('flup needs --flup DIR');
      group = new ProcessGroup(name, 'python3', [join(BENCH_SRC, 'flup_hello.py'), String(port), workers], {
        env: { ...bodyEnv(shape), PYTHONPATH: ctx.flupDir },
      });
      ready = /ready: \d+ workers on /;
      break;
    }
  }
  try {
    await group.waitForLine(ready, 20_000);
  } catch (error) {
    await group.stop();
    throw error;
  }
  return group;
}

function bodyEnv(shape: Shape): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (shape.app === 'big') env.BENCH_BODY_BYTES = String(BIG_BYTES);
  else delete env.BENCH_BODY_BYTES;
  return env;
}

/** Binaries/packages the selected backends need that are missing, as Debian package names. */
export function missingPackages(names: BackendName[]): string[] {
  const missing: string[] = [];
  if (!existsSync('/usr/sbin/nginx')) missing.push('nginx');
  if (!existsSync('/usr/bin/wrk')) missing.push('wrk');
  if (names.includes('uwsgi')) {
    if (!existsSync(UWSGI)) missing.push('uwsgi');
    if (!existsSync(UWSGI_PY3)) missing.push('uwsgi-plugin-python3');
  }
  return missing;
}

export const QUICK_SHAPES: Shape[] = [{ name: 'hello c32 w2', app: 'hello', connections: 32, workers: 2, variants: false }];

export const FULL_SHAPES: Shape[] = [
  { name: 'hello c32 w2', app: 'hello', connections: 32, workers: 2, variants: true },
  { name: 'hello c8 w2', app: 'hello', connections: 8, workers: 2, variants: false },
  { name: 'hello c128 w2', app: 'hello', connections: 128, workers: 2, variants: false },
  { name: 'hello c32 w1', app: 'hello', connections: 32, workers: 1, variants: false },
  { name: 'hello c32 w4', app: 'hello', connections: 32, workers: 4, variants: false },
  { name: 'post-64k c32 w2', app: 'post', connections: 32, workers: 2, variants: false },
  { name: 'big-1m c32 w2', app: 'big', connections: 32, workers: 2, variants: false },
];
