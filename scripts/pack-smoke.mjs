#!/usr/bin/env node
// Part of the Node matrix (scripts/node-matrix.mjs): the CLI installed from the packed tarball starts an example
// app on a Unix socket in a temp dir, answers one `request`, and stops on SIGTERM. Not a test file: the matrix runs
// it once per Node version, with that version first on PATH.
//   node scripts/pack-smoke.mjs <installed scgi-supervise bin> <app.js>

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [cli, app] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'scgi-smoke-'));
const sock = join(dir, 'app.sock');
const master = spawn(cli, ['start', app, '-w', '1', '--listen', `unix:${sock}`, '--control', join(dir, 'control.sock')], { stdio: ['ignore', 'ignore', 'inherit'] });
let ok = false;
const deadline = Date.now() + 20_000;
while (Date.now() < deadline && master.exitCode === null) {
  const r = spawnSync(cli, ['request', '--listen', `unix:${sock}`, '/'], { encoding: 'utf8', timeout: 5000 });
  if (r.status === 0 && r.stdout.length > 0) {
    ok = true;
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
master.kill('SIGTERM');
await new Promise((resolve) => (master.exitCode !== null ? resolve() : master.once('exit', resolve)));
rmSync(dir, { recursive: true, force: true });
console.error(`pack-smoke: ${process.version} ${ok ? 'served' : 'did not serve'}, master exited ${master.exitCode ?? master.signalCode}`);
process.exit(ok && master.exitCode === 0 ? 0 : 1);
