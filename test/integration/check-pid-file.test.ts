// `check` (issue 14 item 6) validates what `start` would, exiting 0 or naming each problem by code: a broken app
// (ERR_APP_LOAD_FAILED, found by loading it in a child) and a taken port (ERR_LISTEN_IN_USE) are both reported in one
// run. `--pid-file`: written with the master's pid once bound, removed at exit, and a file naming a live process
// refuses the start (ERR_CONFIG_PID_FILE). Tests rely on the `check: ok` line (cli/commands/check.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS } from '../helpers/paths.js';
import { makeTempDir, removeDir, waitFor } from '../helpers/frontends/process-utils.js';
import { startSupervisor } from '../helpers/supervisor.js';
import { runCli } from './control-helpers.js';

test('check: a good app on a free address exits 0 with the check: ok line', async (t) => {
  const dir = await makeTempDir('check-');
  t.after(() => removeDir(dir));
  const r = await runCli(['check', join(APPS, 'hello.cjs'), '-l', `unix:${join(dir, 's.sock')}`, '--control', join(dir, 'ctl', 'c.sock')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^check: ok: app .*hello\.cjs, \d+ workers, listen unix:/);
  assert.equal(existsSync(join(dir, 's.sock')), false, 'check leaves no socket file behind');
});

test('check: a broken app and a taken port are both named; exit 1', async (t) => {
  const dir = await makeTempDir('check-');
  t.after(() => removeDir(dir));
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const r = await runCli(['check', join(APPS, 'throws-at-load.cjs'), '-l', `127.0.0.1:${port}`, '--control', join(dir, 'ctl', 'c.sock')]);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /^scgi-supervise: ERR_LISTEN_IN_USE: /m);
  assert.match(r.stderr, /^scgi-supervise: ERR_APP_LOAD_FAILED: .*throws-at-load\.cjs/m);
  assert.match(r.stderr, /^check: 2 problems$/m);
  assert.equal(r.stdout, '');
});

test('check: an invalid option exits 64 naming it', async () => {
  const r = await runCli(['check', join(APPS, 'hello.cjs'), '--workers', 'many']);
  assert.equal(r.code, 64, r.stderr);
  assert.match(r.stderr, /ERR_CONFIG_INVALID: --workers/);
});

test('--pid-file: written once bound, removed at exit; a live pid in it refuses the start', async (t) => {
  const dir = await makeTempDir('pid-file-');
  t.after(() => removeDir(dir));
  const pidFile = join(dir, 'master.pid');
  const sup = await startSupervisor({ app: 'hello.cjs', workers: 1, args: ['--pid-file', pidFile, '--control', join(dir, 'ctl', 'c.sock')], t });
  assert.equal(readFileSync(pidFile, 'utf8'), `${sup.pid}\n`);
  // A second start with the same pid file: refused before it binds anything.
  const second = await runCli(['start', join(APPS, 'hello.cjs'), '-w', '1', '-l', `unix:${join(dir, 'b.sock')}`, '--pid-file', pidFile, '--control', join(dir, 'ctl2', 'c.sock')], 20_000);
  assert.equal(second.code, 64, second.stderr); // an ERR_CONFIG_* code: exit 64 like any refused option
  assert.match(second.stderr, new RegExp(`ERR_CONFIG_PID_FILE: --pid-file .* names pid ${sup.pid}, which is running`));
  assert.equal(existsSync(join(dir, 'b.sock')), false);
  assert.equal(readFileSync(pidFile, 'utf8'), `${sup.pid}\n`, 'the running supervisor\'s pid file is untouched');
  const exit = await sup.stop('SIGTERM', 10_000);
  assert.equal(exit.code, 0);
  await waitFor('the pid file removed', () => (existsSync(pidFile) ? undefined : true), { timeoutMs: 5000 });
  // A stale file (a pid that is gone) does not stop a start.
  writeFileSync(pidFile, '999999\n');
  const third = await startSupervisor({ app: 'hello.cjs', workers: 1, args: ['--pid-file', pidFile, '--control', join(dir, 'ctl3', 'c.sock')], t });
  assert.equal(readFileSync(pidFile, 'utf8'), `${third.pid}\n`);
});
