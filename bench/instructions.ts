// `node dist/bench/instructions.js`: user-space instructions per request of one worker, counted by valgrind's
// callgrind, so the figure does not move with the machine's load (req/s on a shared 2-core machine does). Each
// backend runs with 1 worker under callgrind; after a warm-up its counters are zeroed, N requests are sent straight
// to the SCGI socket (the bytes nginx sends, CONTENT_LENGTH first), the counters are dumped and divided by N.
// Kernel work (TCP, syscalls) is not counted. Options: --only a,b (product,bare-shared,uwsgi), --requests N (2000),
// --warmup N (2000), --concurrency C (4), --keep DIR (keep the dumps for callgrind_annotate), --node-args="FLAGS" (for the Node backends). Not the throughput bench (run.ts).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLI, HELLO, ROOT, UWSGI } from './backends.js';
import { installCleanup, ProcessGroup } from './process-group.js';
import { processTree } from './proc-stats.js';
import { encodeRequest, nginxLikeParams } from '../src/protocol/request-encoder.js';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string', default: 'product,bare-shared,uwsgi' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '4' },
    keep: { type: 'string' }, // a directory to keep the callgrind dumps in (for callgrind_annotate)
    'node-args': { type: 'string', default: '' }, // extra node flags for the Node backends, e.g. --max-semi-space-size=32
  },
});

const REQUEST = encodeRequest(
  nginxLikeParams({
    method: 'GET',
    uri: '/',
    headers: [['Host', '127.0.0.1:8080'], ['User-Agent', 'wrk'], ['Connection', 'keep-alive']],
    remotePort: 40000,
    serverPort: 8080,
    documentRoot: '/usr/share/nginx/html',
  }),
);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Sends `count` requests, `concurrency` at a time, each on its own connection as nginx does; returns the bad ones. */
function send(port: number, count: number, concurrency: number): Promise<number> {
  return new Promise((resolve) => {
    let started = 0;
    let finished = 0;
    let bad = 0;
    const one = () => {
      if (started >= count) return;
      started++;
      const socket = connect(port, '127.0.0.1', () => socket.write(REQUEST)); // no FIN: front ends do not half-close
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => socket.end());
      socket.on('error', () => undefined);
      socket.setTimeout(60_000, () => socket.destroy());
      socket.on('close', () => {
        const body = Buffer.concat(chunks);
        if (!body.subarray(body.length - HELLO.length).equals(HELLO)) bad++;
        if (++finished === count) resolve(bad);
        else one();
      });
    };
    for (let i = 0; i < concurrency; i++) one();
  });
}

function callgrindControl(flag: string, pid: number): void {
  const r = spawnSync('callgrind_control', [flag, String(pid)], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`callgrind_control ${flag} ${pid}: ${r.stderr || r.stdout}`);
}

/** Sums `totals:` of the dumps a pid wrote (one file per thread with --separate-threads); thread 1 is the main one. */
function readDumps(dir: string, pid: number): { all: number; main: number } {
  let all = 0;
  let main = 0;
  for (const file of readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`))) {
    const text = readFileSync(join(dir, file), 'latin1');
    const total = Number(text.match(/^totals:\s+(\d+)/m)?.[1] ?? text.match(/^summary:\s+(\d+)/m)?.[1] ?? 0);
    all += total;
    if (/-01$/.test(file)) main += total;
  }
  return { all, main };
}

async function measureOne(name: string, dir: string): Promise<string> {
  const port = await freePort();
  const valgrind = ['--tool=callgrind', '--trace-children=yes', '--separate-threads=yes', `--callgrind-out-file=${dir}/cg.%p`];
  const nodeArgs = opts['node-args'].split(' ').filter((a) => a !== '');
  let command: string[];
  let env: NodeJS.ProcessEnv = process.env;
  let ready: RegExp;
  switch (name) {
    case 'product':
      command = [process.execPath, ...nodeArgs, CLI, 'start', join(ROOT, 'test', 'fixtures', 'apps', 'bench-hello.cjs'), '-w', '1', '-l', `127.0.0.1:${port}`, '--boot-timeout', '600'];
      ready = /ready: \d+ workers on /;
      break;
    case 'bare-shared':
      command = [process.execPath, ...nodeArgs, join(ROOT, 'dist', 'bench', 'bare-server.js'), String(port), '1'];
      env = { ...process.env, NODE_CLUSTER_SCHED_POLICY: 'none' };
      ready = /ready: \d+ workers on /;
      break;
    case 'uwsgi':
      command = [UWSGI, '--plugin', 'python3', '--scgi-socket', `127.0.0.1:${port}`, '--processes', '1', '--master', '--wsgi-file', join(ROOT, 'bench', 'hello_wsgi.py'), '--disable-logging', '--die-on-term'];
      ready = /spawned uWSGI worker 1 /;
      break;
    default:
      throw new Error(`unknown backend ${name}`);
  }
  const group = new ProcessGroup(name, 'valgrind', [...valgrind, ...command], { env });
  try {
    await group.waitForLine(ready, 300_000); // node starts in ~45 s under callgrind
    const requests = Number(opts.requests);
    const concurrency = Number(opts.concurrency);
    if ((await send(port, Number(opts.warmup), concurrency)) > 0) throw new Error(`${name}: wrong answers during warm-up\n${group.tail()}`);
    const workers = processTree(group.pid).slice(1); // the worker(s): the leader is the master
    if (workers.length === 0) throw new Error(`${name}: no worker process under ${group.pid}`);
    for (const pid of workers) callgrindControl('-z', pid);
    const started = performance.now();
    const bad = await send(port, requests, concurrency);
    const seconds = (performance.now() - started) / 1000;
    for (const pid of workers) callgrindControl('-d', pid);
    let all = 0;
    let main = 0;
    for (const pid of workers) {
      const d = readDumps(dir, pid);
      all += d.all;
      main += d.main;
    }
    const k = (v: number) => (v / requests / 1000).toFixed(1);
    return `| ${name} | ${k(all)} | ${k(main)} | ${k(all - main)} | ${requests} | ${bad} | ${seconds.toFixed(0)} |`;
  } finally {
    await group.stop('SIGTERM', 60_000);
  }
}

async function main(): Promise<void> {
  installCleanup();
  const dir = opts.keep ?? mkdtempSync(join(tmpdir(), 'scgi-callgrind-'));
  mkdirSync(dir, { recursive: true });
  const rows: string[] = [];
  try {
    for (const name of opts.only!.split(',')) {
      process.stderr.write(`instructions: ${name} under callgrind…\n`);
      rows.push(await measureOne(name, dir));
    }
  } finally {
    if (opts.keep === undefined) rmSync(dir, { recursive: true, force: true });
  }
  const text =
    `User-space instructions per request of one worker (valgrind callgrind; ${opts.warmup} warm-up requests, then ${opts.requests} counted, ${opts.concurrency} at a time, straight to the SCGI socket; kernel work not counted).\n\n` +
    '| backend | k instructions/request, all threads | main thread | other threads (GC, JIT) | requests | bad answers | seconds |\n|---|---:|---:|---:|---:|---:|---:|\n' +
    rows.join('\n') +
    '\n';
  process.stdout.write(text);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'instructions.md'), text);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`instructions: failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
