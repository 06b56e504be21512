// `scale`, TTIN/TTOU and `stop` against the real supervisor (issue 4 "Stop and scale"), and the control path rule
// end to end: two supervisors with different listen addresses and no control options each get their own socket,
// and each verb given the same -l as a start reaches that one; --name and --control reach theirs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveControlPath } from '../../src/control/paths.js';
import { parseListenAddress } from '../../src/config/listen-address.js';
import { pidExited } from '../../src/cli/commands/stop.js';
import { get, isAlive, pollFor, runCli, startVersioned, type Supervised } from './control-helpers.js';

async function readyCount(s: Supervised, generation?: number): Promise<{ ready: number; total: number; target: number }> {
  const snap = await s.stats();
  const ready = snap.workers.filter((w) => w.state === 'ready' && (generation === undefined || w.generation === generation));
  return { ready: ready.length, total: snap.workers.length, target: snap.master.workers };
}

describe('scale and TTIN/TTOU', { timeout: 90_000 }, () => {
  let s: Supervised;
  before(async () => {
    s = await startVersioned({ workers: 2 });
  });
  after(async () => {
    await s?.cleanup();
  });

  test('scale 3 exits 0 with 3 ready workers; scale 1 exits 0 and the others drain away', async () => {
    const up = await s.verb(['scale', '3'], 60_000);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout, 'scaled: 2 -> 3 workers\n');
    // "exit 0 when reached": the third worker is ready at the moment scale returns.
    assert.deepEqual(await readyCount(s), { ready: 3, total: 3, target: 3 });
    const down = await s.verb(['scale', '1'], 60_000);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout, 'scaled: 3 -> 1 workers\n');
    const now = await pollFor('only one worker left', 10_000, async () => {
      const c = await readyCount(s);
      return c.total === 1 ? c : undefined;
    }, 100);
    assert.deepEqual(now, { ready: 1, total: 1, target: 1 });
    assert.equal((await get(s.target)).status, 200);
  });

  test('an invalid count is refused with a typed error and changes nothing', async () => {
    for (const n of ['0', '-1', '2.5', '100000']) {
      const r = await s.verb(['scale', n]);
      assert.notEqual(r.code, 0, `scale ${n}`);
      assert.match(r.stderr, /ERR_CONTROL_BAD_ARGS|Not enough|Invalid|argument/i, `scale ${n}: ${r.stderr}`);
    }
    assert.equal((await readyCount(s)).target, 1);
  });

  test('SIGTTIN adds one worker, SIGTTOU removes one', async () => {
    process.kill(s.pid, 'SIGTTIN');
    await pollFor('2 ready workers after TTIN', 10_000, async () => {
      const c = await readyCount(s);
      return c.ready === 2 && c.target === 2 ? c : undefined;
    }, 100);
    process.kill(s.pid, 'SIGTTIN');
    await pollFor('3 ready workers after TTIN', 10_000, async () => {
      const c = await readyCount(s);
      return c.ready === 3 && c.target === 3 ? c : undefined;
    }, 100);
    process.kill(s.pid, 'SIGTTOU');
    const c = await pollFor('2 workers after TTOU', 10_000, async () => {
      const c = await readyCount(s);
      return c.total === 2 && c.target === 2 ? c : undefined;
    }, 100);
    assert.equal(c.ready, 2);
  });
});

describe('two supervisors, different listen addresses, no control options', { timeout: 90_000 }, () => {
  let a: Supervised;
  let b: Supervised;
  before(async () => {
    a = await startVersioned({ workers: 1, kind: 'tcp' });
    b = await startVersioned({ workers: 1, kind: 'unix' });
  });
  after(async () => {
    await a?.cleanup();
    await b?.cleanup();
  });

  test('each gets its own control socket and each verb reaches the one started with the same -l', async () => {
    const pathA = resolveControlPath({ listen: parseListenAddress(a.listen) });
    const pathB = resolveControlPath({ listen: parseListenAddress(b.listen) });
    assert.notEqual(pathA, pathB);
    assert.ok(existsSync(pathA) && existsSync(pathB));
    const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
    assert.equal(sa.master.pid, a.pid);
    assert.equal(sa.master.listen, a.listen);
    assert.equal(sb.master.pid, b.pid);
    assert.equal(sb.master.listen, b.listen);
    const scaled = await b.verb(['scale', '2'], 60_000);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal((await a.stats()).master.workers, 1, 'scaling B left A alone');
    const stopped = await a.verb(['stop'], 60_000);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.ok(pidExited(a.pid));
    assert.ok(isAlive(b.pid), 'stopping A left B running');
    assert.equal((await b.stats()).master.workers, 2);
  });
});

describe('--name and --control', { timeout: 90_000 }, () => {
  let named: Supervised;
  let explicit: Supervised;
  const name = `ctl-test-${process.pid}`;
  before(async () => {
    named = await startVersioned({ workers: 1, args: ['--name', name] });
    explicit = await startVersioned({ workers: 1, args: (dir) => ['--control', join(dir, 'ctl', 'c.sock')] });
  });
  after(async () => {
    await named?.cleanup();
    await explicit?.cleanup();
  });

  test('a supervisor started with --name is reached by --name alone, and not by its -l', async () => {
    const r = await runCli(['stats', '--json', '--name', name], 15_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).master.pid, named.pid);
    const byListen = await named.verb(['stats']);
    assert.equal(byListen.code, 3, 'the listen-derived path is not used when --name was given');
  });

  test('a supervisor started with --control PATH is reached by --control PATH, in a 0700 dir it created', async () => {
    const path = join(explicit.dir, 'ctl', 'c.sock');
    const r = await runCli(['stats', '--json', '--control', path], 15_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).master.pid, explicit.pid);
    assert.equal(statSync(join(explicit.dir, 'ctl')).mode & 0o777, 0o700);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const stopped = await runCli(['stop', '--control', path], 60_000);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.ok(pidExited(explicit.pid));
    assert.equal(existsSync(path), false);
  });
});

describe('stop', { timeout: 90_000 }, () => {
  let s: Supervised;
  before(async () => {
    s = await startVersioned({ workers: 2 });
  });
  after(async () => {
    await s?.cleanup();
  });

  test('stop drains an in-flight request and returns only after the master has exited', async () => {
    const controlPath = resolveControlPath({ listen: parseListenAddress(s.listen) });
    const workerPids = (await s.stats()).workers.map((w) => w.pid!);
    let slowDoneAt = 0;
    const slow = get(s.target, '/slow?ms=3000').then((r) => ((slowDoneAt = Date.now()), r));
    await pollFor('the slow request to be in flight', 5000, async () => {
      const snap = await s.stats();
      return snap.workers.some((w) => w.inflight > 0) ? true : undefined;
    }, 50);
    const r = await s.verb(['stop'], 60_000);
    const stopReturnedAt = Date.now();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `stopped: master pid ${s.pid} exited\n`);
    // When `stop` returns the master is gone (or a zombie only its parent, this test, has not reaped yet).
    assert.ok(pidExited(s.pid), 'the master has exited when stop returns');
    const res = await slow;
    assert.equal(res.status, 200, 'the in-flight request completed');
    assert.ok(slowDoneAt > 0 && slowDoneAt <= stopReturnedAt, 'the in-flight request finished before stop returned');
    const exit = await s.sup.exited(5000);
    assert.equal(exit?.code, 0, `master exit ${JSON.stringify(exit)}`);
    for (const pid of workerPids) assert.ok(pidExited(pid), `worker ${pid} is gone`);
    assert.equal(existsSync(controlPath), false, 'the control socket file was removed');
    const again = await s.verb(['stats']);
    assert.equal(again.code, 3, 'and nothing answers there any more');
  });
});
