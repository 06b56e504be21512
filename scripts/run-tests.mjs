#!/usr/bin/env node
// `npm test` after the build: make sure the real front ends the tests drive are installed (installing them from
// Debian's packages when we are root and they are missing, else failing with what to install), then run every
// compiled dist/test/**/*.test.js with node:test. Node 20's --test expands no globs, hence the explicit list.
// Two groups: the SERIAL files one at a time with nothing else running, then the rest CONCURRENCY at a time with
// the Node matrix (scripts/node-matrix.mjs, a child process of its own) running beside them.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CLOSING, findTests, runTap } from './node-matrix.mjs';

const ROOT = new URL('..', import.meta.url).pathname;

// binary the tests run -> Debian package that provides it
const REQUIRED = [
  ['/usr/sbin/nginx', 'nginx'],
  ['/usr/sbin/lighttpd', 'lighttpd'],
  ['/usr/sbin/apache2', 'apache2'],
  ['/usr/bin/wrk', 'wrk'],
  ['/usr/bin/setpriv', 'util-linux'], // workers' --user/--group (essential on Debian; installed if a slim image lacks it)
  ['/usr/bin/systemd-socket-activate', 'systemd'], // socket activation test; systemd-analyze verify of the units
  ['/usr/bin/python3', 'python3'], // the NOTIFY_SOCKET receiver and the socket holder in the systemd tests
  ['/usr/bin/cc', 'gcc'], // builds build/sd_notify.node and build/syn_filter.node (scripts/build-native.mjs)
  ['/usr/bin/promtool', 'prometheus'], // observe-metrics.test.ts: promtool check metrics/rules/config, a real scrape
  ['/usr/bin/ss', 'iproute2'], // the Unix socket's listen queue (master/listen-queue.ts); an inherited socket's backlog; `ip netns` (frontends/stop-queue)
];

function ensureFrontEnds() {
  const missing = REQUIRED.filter(([bin]) => !existsSync(bin)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.error(`run-tests: the tests need ${missing.join(', ')}; install them first: apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  console.error(`run-tests: installing ${missing.join(', ')} from Debian packages (apt-get)…`);
  // Keep the packages' own services from starting on :80 during install: the tests run their own instances.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...missing]]) {
      const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
      if (r.status !== 0) {
        console.error(`run-tests: 'apt-get ${args.join(' ')}' failed; install ${missing.join(' ')} by hand`);
        process.exit(1);
      }
    }
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

// Run alone, one file at a time: files that time something against a bound tighter than the stalls a busy
// 2-core machine produces (a burst's makespan, a request answered within 1 s while others are cut, a deadline
// window, a watchdog ping's median gap), or that load the machine themselves (wrk, 500 sockets, crash storms,
// kill -9 under load). The rest wait on real processes most of the time and run CONCURRENCY at a time. A new file
// that asserts on a duration with less than about a second of slack, or drives load, belongs here.
// Paths under dist/; a substring match, like the filter.
export const SERIAL = [
  'test/frontends/crash-storm.test.js', // restarts within the rate limit's arithmetic; recovery within 30 s
  'test/frontends/max-connections.test.js', // each burst within 1.5 × the ideal makespan
  'test/frontends/recycle.test.js', // wrk for 8 s must reach max-requests twice; 40 stats samples at 100 ms
  'test/frontends/request-timeout.test.js', // 504 within timeout + 1 s
  'test/frontends/restart.test.js', // kill -9 of every worker under load through three front ends
  'test/frontends/stop-queue.test.js', // GET and POST load through nginx into two network namespaces during a stop
  'test/integration/lifecycle-stop-queue.test.js', // the socket path gone before a 1 s request (already running) ends
  'test/integration/orphans.test.js', // port free and workers gone within 2 s of the master's SIGKILL
  'test/integration/pid1.test.js', // a pid namespace (unshare) of its own
  'test/integration/reload-under-load.test.js', // 16 clients and wrk through nginx, reloads inside wrk's run
  'test/integration/sd-notify.test.js', // WATCHDOG=1 median gap within 120-220 ms
  'test/integration/send-timeout.test.js', // a slow reader's 400 ms pauses must stay under the 1 s send-timeout
  'test/integration/slowloris.test.js', // 500 connections; a normal request within 1 s; cuts inside a window
  'test/integration/worker-queued-abort.test.js', // both connections made within the app's 800 ms load
  'test/integration/worker-timeout.test.js', // a request during a blocked worker answered within 1 s
];
// node --test's own concurrency for the other files. 2 on the 2-core CI machine, with the matrix as a third lane.
const CONCURRENCY = Number(process.env.SCGI_TEST_CONCURRENCY ?? 2) || 1;

ensureFrontEnds();
// npm ci ran the addon build before gcc may have been installed above: build it now, so the notify test runs.
if (!existsSync(join(ROOT, 'build', 'sd_notify.node')) || !existsSync(join(ROOT, 'build', 'syn_filter.node'))) spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
const filter = process.argv.slice(2);
let files = findTests(join(ROOT, 'dist', 'test'));
// Match on the path inside the checkout: a checkout whose own path holds the word (…/wt-worker/) must not match all.
if (filter.length > 0) files = files.filter((f) => filter.some((part) => relative(ROOT, f).includes(part)));
if (files.length === 0) {
  console.error('run-tests: no compiled tests found under dist/test (did the build run?)');
  process.exit(1);
}
const isSerial = (f) => SERIAL.some((s) => relative(join(ROOT, 'dist'), f).includes(s));
// A renamed file would otherwise drop silently into the concurrent group.
const stale = filter.length === 0 ? SERIAL.filter((s) => !files.some((f) => relative(join(ROOT, 'dist'), f).includes(s))) : [];
if (stale.length > 0) {
  console.error(`run-tests: SERIAL names ${stale.join(', ')}, which no test file matches: update the list in scripts/run-tests.mjs`);
  process.exit(1);
}
const serial = files.filter(isSerial);
const rest = files.filter((f) => !isSerial(f));
// The whole run (no filter) goes on with the Node matrix (scripts/node-matrix.mjs): a subset on Node 22, 24 and 26,
// on both worker I/O paths, and the packed tarball on each. SCGI_NODE_MATRIX=0 skips it (a quick local run).
const withMatrix = filter.length === 0 && process.env.SCGI_NODE_MATRIX !== '0';
const scratch = mkdtempSync(join(tmpdir(), 'scgi-run-tests-'));
const started = Date.now();

/** node --test on `group` with TAP on stdout and the per-file times (scripts/file-times.mjs) into a file. */
async function runGroup(name, group, concurrency) {
  if (group.length === 0) return null;
  console.error(`run-tests: ${group.length} test files, ${concurrency} at a time${name === 'serial' ? ', nothing else running' : ''}: ${group.map((f) => relative(ROOT, f)).join(' ')}`);
  const times = join(scratch, `${name}-times.json`);
  const args = ['--test', '--test-reporter=tap', '--test-reporter-destination=stdout', `--test-reporter=${join(ROOT, 'scripts', 'file-times.mjs')}`,
    `--test-reporter-destination=${times}`, `--test-concurrency=${concurrency}`, ...group];
  const groupStarted = Date.now();
  const r = await runTap(process.execPath, args, { cwd: ROOT });
  let ms = {};
  try {
    ms = JSON.parse(readFileSync(times, 'utf8'));
  } catch {
    // a run that died before its reporter finished: no times, the status says the rest
  }
  return { ...r, name, seconds: Math.round((Date.now() - groupStarted) / 1000), ms };
}

/** The matrix in a child process, its output held back until it ends (the suite's TAP is on stdout meanwhile). */
function runMatrixBeside() {
  const resultsFile = join(scratch, 'matrix.json');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'node-matrix.mjs'), '--results', resultsFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('close', (code) => {
      process.stderr.write(Buffer.concat(err));
      process.stdout.write(Buffer.concat(out));
      let results;
      try {
        results = JSON.parse(readFileSync(resultsFile, 'utf8'));
      } catch {
        // it died before writing them: one failed run, so CI fails and shows its output above
        results = [{ version: 'node matrix', path: 'scripts/node-matrix.mjs', status: code || 1, counts: null, seconds: 0 }];
      }
      resolve(results);
    });
  });
}

const first = await runGroup('serial', serial, 1);
// SCGI_TEST_CONCURRENCY=1: everything one at a time, the matrix after the suite (to tell a concurrency flake apart).
const matrixRun = withMatrix && CONCURRENCY > 1 ? runMatrixBeside() : null;
const second = await runGroup('concurrent', rest, CONCURRENCY);
const matrix = await (matrixRun ?? (withMatrix ? runMatrixBeside() : []));
const groups = [first, second].filter((g) => g !== null);
rmSync(scratch, { recursive: true, force: true });

// The slowest files (sum of their top-level tests), for whoever moves a file between the groups or trims a wait.
const perFile = groups.flatMap((g) => Object.entries(g.ms).map(([f, ms]) => [relative(ROOT, f), ms, g.name]));
perFile.sort((a, b) => b[1] - a[1]);
for (const [f, ms, group] of perFile.slice(0, 15)) console.log(`# run-tests: ${(ms / 1000).toFixed(1)}s ${f} (${group})`);
for (const g of groups) console.log(`# run-tests: ${g.name} group ${g.seconds}s`);
if (matrix.length > 0) console.log(`# run-tests: node matrix ${CONCURRENCY > 1 ? 'beside' : 'after'} the concurrent group, ${matrix.reduce((s, r) => s + r.seconds, 0)}s`);
// node:test's closing lines for everything above, last, as CI reads them: the full suite plus every matrix run
// (a failed pack-and-run step counts as one failed test).
const total = Object.fromEntries(CLOSING.map((name) => [name, 0]));
for (const g of groups) for (const name of CLOSING) total[name] += g.counts[name];
for (const r of matrix) {
  if (r.counts === null) {
    total.tests += 1;
    total[r.status === 0 ? 'pass' : 'fail'] += 1;
  } else for (const name of CLOSING) total[name] += r.counts[name];
}
const runs = groups.length + matrix.length;
const wall = ((Date.now() - started) / 1000).toFixed(0);
console.log(`# run-tests: ${runs} run${runs > 1 ? 's' : ''} in ${wall}s (node ${process.version} ${filter.length ? 'selected tests' : 'full suite'}${matrix.length ? ', node matrix' : ''})`);
for (const name of CLOSING) console.log(`# ${name} ${name === 'duration_ms' ? total[name].toFixed(3) : total[name]}`);
const ok = groups.every((g) => g.status === 0) && matrix.every((r) => r.status === 0);
process.exit(ok ? 0 : 1);
