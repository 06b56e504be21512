// --max-connections races, over raw SCGI against the real supervisor (one worker, cap 1, an app that answers
// /slow?ms=N after N ms without blocking): a second request waits in the backlog while the first holds the worker
// (nothing accepted and dropped); a reload while the worker is paused at its cap finishes the first request in the
// draining worker and serves the queued one in the new worker; a worker paused when its master is SIGKILLed
// finishes its request and exits anyway; a peer that connects and sends nothing holds no place for long (no
// slowloris lever: the header timeout is 10 s, the worker accepts again within about 100 ms).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSupervisor } from '../helpers/supervisor.js';
import { isAlive, signalPid, waitFor } from '../helpers/frontends/process-utils.js';
import { get, runCli } from './control-helpers.js';
import { connectTo, type Target } from '../helpers/scgi-raw.js';

async function start(t: Parameters<typeof startSupervisor>[0]['t']) {
  const dir = await mkdtemp(join(tmpdir(), 'scgi-maxconn-'));
  t!.after(() => rm(dir, { recursive: true, force: true }));
  const sv = await startSupervisor({ app: 'timeout-node.cjs', workers: 1, args: ['--max-connections', '1'], env: { TIMEOUT_LOG: join(dir, 'app.log') }, t });
  assert.ok('port' in sv.connect);
  const target: Target = { kind: 'tcp', host: sv.connect.host, port: sv.connect.port };
  return { sv, target };
}

/** Resolves true if `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), sleep(ms).then(() => false)]);
}

test('max-connections 1: a reload while the worker is paused at its cap drops nothing', async (t) => {
  const { sv, target } = await start(t);
  const [oldPid] = sv.workerPids();
  const first = get(target, '/slow?ms=2000');
  await sleep(300); // the worker has it and is paused
  const second = get(target, '/slow?ms=10');
  // The second waits in the kernel backlog: the only worker is at its cap.
  assert.equal(await settlesWithin(second, 700), false, 'a second request was served while the only worker was at its cap');
  const reload = await runCli(['reload', '-l', sv.address], 30_000);
  assert.equal(reload.code, 0, reload.stderr);
  assert.deepEqual(await second, { status: 200, body: 'slow 10\n' }, sv.logs());
  assert.deepEqual(await first, { status: 200, body: 'slow 2000\n' }, sv.logs());
  await sv.waitForLog(new RegExp(`worker 1 \\(pid ${oldPid}\\) exited with code 0 \\(reload\\)`), 10_000);
  assert.notEqual(sv.workerPids()[0], oldPid);
  // The new worker serves on, pausing and resuming.
  for (let i = 0; i < 5; i++) assert.equal((await get(target, '/slow?ms=1')).status, 200);
  assert.doesNotMatch(sv.logs(), /ERROR|asked for a copy of the listening socket; none/, sv.logs());
});

test('max-connections 1: a worker paused at its cap when the master is SIGKILLed finishes its request and exits', async (t) => {
  const { sv, target } = await start(t);
  const [workerPid] = sv.workerPids();
  const first = get(target, '/slow?ms=1500');
  await sleep(300);
  signalPid(sv.pid, 'SIGKILL');
  assert.deepEqual(await first, { status: 200, body: 'slow 1500\n' });
  await waitFor('the orphaned worker to exit', () => !isAlive(workerPid!), { timeoutMs: 5000 });
});

test('max-connections 1: a connection that sends nothing does not stop the worker accepting for long', async (t) => {
  const { target } = await start(t);
  const idle = connectTo(target);
  t.after(() => idle.destroy());
  await new Promise((resolve) => idle.once('connect', resolve));
  await sleep(50); // accepted by the only worker, which paused at its cap
  const started = Date.now();
  const r = await get(target, '/slow?ms=1');
  assert.equal(r.status, 200, r.body);
  // Counted for its first 100 ms only (serve.ts ACCEPT_GRACE_MS), not until its 10 s header timeout.
  assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms`);
});
