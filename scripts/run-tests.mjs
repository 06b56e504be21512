#!/usr/bin/env node
// `npm test` after the build: make sure the real front ends the tests drive are installed (installing them from
// Debian's packages when we are root and they are missing, else failing with what to install), then run every
// compiled dist/test/**/*.test.js with node:test. Node 20's --test expands no globs, hence the explicit list.

import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CLOSING, findTests, runMatrix, runTap } from './node-matrix.mjs';

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
  ['/usr/bin/cc', 'gcc'], // builds build/sd_notify.node (scripts/build-native.mjs)
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

ensureFrontEnds();
// npm ci ran the addon build before gcc may have been installed above: build it now, so the notify test runs.
if (!existsSync(join(ROOT, 'build', 'sd_notify.node'))) spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
const filter = process.argv.slice(2);
let files = findTests(join(ROOT, 'dist', 'test'));
// Match on the path inside the checkout: a checkout whose own path holds the word (…/wt-worker/) must not match all.
if (filter.length > 0) files = files.filter((f) => filter.some((part) => relative(ROOT, f).includes(part)));
if (files.length === 0) {
  console.error('run-tests: no compiled tests found under dist/test (did the build run?)');
  process.exit(1);
}
console.error(`run-tests: ${files.length} test files: ${files.map((f) => relative(ROOT, f)).join(' ')}`);
const full = await runTap(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=1', ...files], { cwd: ROOT });
// The whole run (no filter) goes on with the Node matrix (scripts/node-matrix.mjs): a subset on Node 22, 24 and 26,
// on both worker I/O paths, and the packed tarball on each. SCGI_NODE_MATRIX=0 skips it (a quick local run).
const matrix = filter.length === 0 && process.env.SCGI_NODE_MATRIX !== '0' ? await runMatrix() : [];
// node:test's closing lines for everything above, last, as CI reads them: the full suite plus every matrix run
// (a failed pack-and-run step counts as one failed test).
const total = { ...full.counts };
for (const r of matrix) {
  if (r.counts === null) {
    total.tests += 1;
    total[r.status === 0 ? 'pass' : 'fail'] += 1;
  } else for (const name of CLOSING) total[name] += r.counts[name];
}
const runs = 1 + matrix.length;
console.log(`# run-tests: ${runs} run${runs > 1 ? 's' : ''} (node ${process.version} ${filter.length ? "selected tests" : "full suite"}${matrix.length ? ', node matrix' : ''})`);
for (const name of CLOSING) console.log(`# ${name} ${name === 'duration_ms' ? total[name].toFixed(3) : total[name]}`);
const ok = full.status === 0 && matrix.every((r) => r.status === 0);
process.exit(ok ? 0 : 1);
