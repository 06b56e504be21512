// The Master driven through its queue with fakes of our interfaces (FakeClock, FakeSpawner, FakeLog, FakeListener):
// worker messages/exits and commands in; spawns, drain messages, signals, log lines and promises out. No processes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Master } from '../../../src/master/master.js';
import { InternalError, SupervisorError } from '../../../src/errors.js';
import { EXIT_APP_LOAD_FAILED, EXIT_OK } from '../../../src/worker/exit-codes.js';
import type { Config } from '../../../src/config/config.js';
import { FakeClock, FakeListener, FakeLog, FakeSpawner, testConfig } from './fakes.js';

function setup(overrides: Partial<Config> = {}) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const log = new FakeLog();
  const listener = new FakeListener();
  const master = new Master({
    config: testConfig(overrides),
    listener,
    spawnWorker: spawner.spawn,
    log,
    clock,
    sampleUsage: async (pids) => new Map(pids.map((pid) => [pid, { cpu: 1.5, memory: 1024, cpuSeconds: 2 }])),
    version: '9.9.9',
  });
  const tick = (ms = 0) => clock.advance(ms);
  return { clock, spawner, log, listener, master, tick };
}

const sumRows = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Settles promise callbacks queued by the master (they run as microtasks). */
const flush = () => new Promise((r) => setImmediate(r));

async function started(overrides: Partial<Config> = {}) {
  const s = setup(overrides);
  const ready = s.master.start();
  s.tick();
  for (const w of s.spawner.alive) w.ready();
  s.tick();
  await ready;
  return s;
}

function codeOf(err: unknown): string | undefined {
  return err instanceof SupervisorError ? err.code : undefined;
}

test('start spawns N workers with the options and the listen fd, and logs the ready line once all are ready', async () => {
  const { spawner, log, master, tick } = setup({ workers: 3 });
  let ready = false;
  void master.start().then(() => (ready = true));
  tick();
  assert.deepEqual(spawner.all.map((w) => [w.options.workerId, w.options.generation]), [[1, 1], [2, 1], [3, 1]]);
  assert.equal(spawner.all[0]!.options.app, '/srv/app.js');
  spawner.all[0]!.ready();
  spawner.all[1]!.ready();
  tick();
  await flush();
  assert.equal(ready, false);
  assert.ok(log.has('worker 1 (pid 100) ready'));
  spawner.all[2]!.ready();
  tick();
  await flush();
  assert.equal(ready, true);
  assert.equal(log.lines.filter((l) => l.includes('ready: 3 workers on 127.0.0.1:4000')).length, 1);
});

test('a worker that was ready is replaced at once, at most 2 per second per slot; the log tells a loop once', async () => {
  const { spawner, log, master, tick, clock } = await started();
  const t0 = clock.now(); // slot 1's first spawn
  const [w1] = spawner.alive;
  w1!.exit(null, 'SIGKILL');
  tick();
  assert.ok(log.has('worker 1 (pid 100) exited on SIGKILL; respawning'), log.lines.join('\n'));
  const second = spawner.alive.find((w) => w.options.workerId === 1)!;
  assert.equal(second.pid, 102);
  second.ready();
  tick(50);
  second.exit(1);
  tick();
  // Two spawns of slot 1 within the last second: the third waits for the window (issue 13's 2/s rule).
  assert.equal(spawner.alive.filter((w) => w.options.workerId === 1).length, 0);
  assert.equal(log.lines.filter((l) => l.includes('exited')).length, 1, 'the second crash of the minute is not logged');
  const stats = await master.stats();
  const backoff = stats.workers.find((r) => r.id === 1)!;
  assert.deepEqual([backoff.state, backoff.pid, backoff.restarts, backoff.recentRestarts], ['backoff', null, 2, 2]);
  assert.deepEqual(backoff.lastExit, { code: 1, signal: null, reason: 'crash' });
  tick(t0 + 999 - clock.now());
  assert.equal(spawner.alive.filter((w) => w.options.workerId === 1).length, 0);
  tick(1);
  const third = spawner.alive.find((w) => w.options.workerId === 1)!;
  // A boot failure (exit before ready) backs off: the first respawns at once (within the rate limit), then min, 2·min …
  third.exit(1);
  tick();
  const fourth = spawner.alive.find((w) => w.options.workerId === 1)!;
  assert.ok(fourth, 'the first boot failure respawns at once');
  fourth.exit(3);
  tick();
  assert.equal(spawner.alive.filter((w) => w.options.workerId === 1).length, 0, 'rate limit: 2 spawns in the last second');
  assert.equal(log.lines.filter((l) => l.includes('exited')).length, 1);
  // One summary line a minute after the first line: the crashes of the last 60 s (the logged one is 60 s old) and how the last ended.
  tick(60_000);
  assert.ok(log.has('worker 1 crashed 3 times in the last 60 s (last: exited with code 3)'), log.lines.join('\n'));
  assert.equal(log.lines.filter((l) => l.includes('crashed')).length, 1);
});

test('a slot whose workers never get ready backs off exponentially, but never every slot while none serves', async () => {
  const { spawner, master, tick } = await started({ restartBackoffMinMs: 100, restartBackoffMaxMs: 10_000 });
  // Both slots boot-fail repeatedly (each replacement exits before ready), spaced 2 s apart: no rate limit, only backoff.
  const delays: number[] = [];
  for (let round = 0; round < 5; round++) {
    tick(2000);
    for (const w of spawner.alive.filter((x) => x.options.workerId === 1)) w.exit(round === 0 ? null : 1, round === 0 ? 'SIGKILL' : null);
    tick();
    const row = (await master.stats()).workers.find((r) => r.id === 1)!;
    delays.push(row.state === 'backoff' ? 1 : 0);
  }
  assert.deepEqual(delays, [0, 0, 1, 1, 1]); // ready crash, 1st boot failure: at once; then it waits
  // Slot 1 waits out 400 ms; slot 2 (ready) is killed, replaced at once, and two replacements die before ready: slot 2
  // now waits for its rate limit (1 s). Every slot waits, none is up: slot 1 (ends first) spawns now.
  const slot1 = () => spawner.alive.filter((x) => x.options.workerId === 1);
  assert.equal(slot1().length, 0);
  spawner.alive.find((x) => x.options.workerId === 2)!.exit(null, 'SIGKILL');
  tick();
  spawner.alive.find((x) => x.options.workerId === 2)!.exit(1); // first boot failure: again at once
  tick();
  spawner.alive.find((x) => x.options.workerId === 2)!.exit(1); // second: backoff, and 2 spawns this instant
  tick();
  assert.equal(spawner.alive.filter((x) => x.options.workerId === 2).length, 0);
  assert.equal(slot1().length, 1, 'with no worker up, the slot whose backoff ends first spawns now');
});

test('an app that fails to load at start stops the master with its error: no crash loop, exit code 1', async () => {
  const { spawner, log, listener, master, tick } = setup({ workers: 2 });
  const start = master.start();
  tick();
  const [w1, w2] = spawner.all;
  w1!.emit({ type: 'load-failed', error: { code: 'ERR_APP_LOAD_FAILED', message: 'boom', stack: 'Error: boom\n    at /srv/app.js:3:9' } });
  w1!.exit(EXIT_APP_LOAD_FAILED);
  tick();
  await assert.rejects(start, (err: unknown) => {
    assert.equal(codeOf(err), 'ERR_APP_LOAD_FAILED');
    assert.match((err as Error).message, /\/srv\/app\.js failed to load: boom \(at \/srv\/app\.js:3:9\)/);
    return true;
  });
  assert.deepEqual(w2!.signals, ['SIGTERM']); // still loading: cannot drain, so TERM
  assert.equal(spawner.all.length, 2); // nothing respawned
  w2!.exit(null, 'SIGTERM');
  tick();
  assert.equal(await master.done, 1);
  assert.equal(listener.closed, 1);
  assert.ok(log.has('stopped'));
});

test('a worker not ready within the boot timeout at start is killed and halts the master', async () => {
  const { spawner, master, tick } = setup({ workers: 1, bootTimeoutMs: 3000 });
  const start = master.start();
  tick();
  tick(3000);
  assert.deepEqual(spawner.all[0]!.signals, ['SIGKILL']);
  spawner.all[0]!.exit(null, 'SIGKILL');
  tick();
  await assert.rejects(start, (err: unknown) => codeOf(err) === 'ERR_APP_BOOT_TIMEOUT');
  assert.equal(await master.done, 1);
});

test('stop drains every worker, kills what is left after the graceful timeout, closes the listener, exits 0', async () => {
  const { spawner, log, listener, master, tick } = await started({ gracefulTimeoutMs: 5000 });
  const [w1, w2] = spawner.alive;
  const stopping = master.stop();
  tick();
  await stopping;
  assert.ok(log.has('stopping: draining 2 workers (graceful timeout 5s)'));
  assert.deepEqual([w1!.sent, w2!.sent], [[{ type: 'drain' }], [{ type: 'drain' }]]);
  w1!.exit(EXIT_OK);
  tick(5000 + 1999);
  assert.deepEqual(w2!.signals, []);
  tick(1);
  assert.deepEqual(w2!.signals, ['SIGKILL']);
  assert.equal(listener.closed, 0);
  w2!.exit(null, 'SIGKILL');
  tick();
  assert.equal(await master.done, 0);
  assert.equal(listener.closed, 1);
  assert.equal(log.lines[log.lines.length - 1], 'INFO stopped');
  assert.equal(spawner.all.length, 2); // nobody respawned during the stop
});

test('a second stop kills the workers at once', async () => {
  const { spawner, log, master, tick } = await started();
  master.enqueue({ type: 'stop' });
  tick();
  master.enqueue({ type: 'stop' });
  tick();
  assert.ok(log.has('second stop request: killing 2 workers now'));
  for (const w of spawner.alive) assert.deepEqual(w.signals, ['SIGKILL']);
});

test('reload, surge 1: new generation slot by slot, old workers drained after their replacement is ready', async () => {
  const { spawner, master, tick } = await started({ workers: 2 });
  const [old1, old2] = spawner.alive;
  const reload = master.reload();
  tick();
  const canary = spawner.ofGeneration(2);
  assert.deepEqual(canary.map((w) => w.options.workerId), [1]);
  assert.deepEqual([old1!.sent, old2!.sent], [[], []]);
  canary[0]!.ready();
  tick();
  assert.deepEqual(old1!.sent, [{ type: 'drain' }]);
  assert.deepEqual(old2!.sent, []);
  assert.deepEqual(spawner.ofGeneration(2).map((w) => w.options.workerId), [1, 2]);
  old1!.exit(EXIT_OK);
  spawner.ofGeneration(2)[1]!.ready();
  tick();
  assert.deepEqual(old2!.sent, [{ type: 'drain' }]);
  // Refused, never interleaved.
  const second = master.reload();
  tick();
  await assert.rejects(second, (err: unknown) => codeOf(err) === 'ERR_RELOAD_IN_PROGRESS');
  old2!.exit(EXIT_OK);
  tick();
  const result = await reload;
  assert.equal(result.generation, 2);
  assert.equal(result.workers, 2);
  const stats = await master.stats();
  assert.equal(stats.master.generation, 2);
  assert.deepEqual(stats.workers.map((r) => [r.id, r.generation, r.state]), [[1, 2, 'ready'], [2, 2, 'ready']]);
  assert.deepEqual(stats.workers[0]!.lastExit, { code: 0, signal: null, reason: 'reload' });
});

test('reload canary that fails to load: reload rejected with the app error, the old generation untouched', async () => {
  const { spawner, master, tick } = await started({ workers: 2 });
  const olds = spawner.alive;
  const reload = master.reload();
  tick();
  const [canary] = spawner.ofGeneration(2);
  canary!.emit({ type: 'load-failed', error: { code: 'ERR_APP_LOAD_FAILED', message: 'SyntaxError: Unexpected token' } });
  canary!.exit(EXIT_APP_LOAD_FAILED);
  tick();
  await assert.rejects(reload, (err: unknown) => {
    assert.equal(codeOf(err), 'ERR_RELOAD_FAILED');
    assert.match((err as Error).message, /Unexpected token/);
    return true;
  });
  for (const w of olds) assert.deepEqual([w.sent, w.signals], [[], []]);
  assert.equal(spawner.ofGeneration(2).length, 0);
  tick(10_000);
  assert.equal(spawner.all.length, 3); // no retry of the bad generation
  const stats = await master.stats();
  assert.equal(stats.master.generation, 1);
  assert.deepEqual(stats.workers.map((r) => [r.generation, r.state]), [[1, 'ready'], [1, 'ready']]);
  // The next reload is allowed and uses a fresh generation number.
  void master.reload().catch(() => undefined);
  tick();
  assert.deepEqual(spawner.alive.map((w) => w.options.generation), [1, 1, 3]);
});

test('reload canary that crashes or never becomes ready fails the reload', async () => {
  for (const how of ['crash', 'boot-timeout'] as const) {
    const { spawner, master, tick } = await started({ workers: 2, bootTimeoutMs: 3000 });
    const reload = master.reload();
    tick();
    const [canary] = spawner.ofGeneration(2);
    if (how === 'crash') canary!.exit(null, 'SIGSEGV');
    else {
      tick(3000);
      assert.deepEqual(canary!.signals, ['SIGKILL']);
      canary!.exit(null, 'SIGKILL');
    }
    tick();
    await assert.rejects(reload, (err: unknown) => codeOf(err) === 'ERR_RELOAD_FAILED', how);
    for (const w of spawner.ofGeneration(1)) assert.deepEqual(w.sent, [], how);
  }
});

test('scale up and down, one worker at a time; TTIN/TTOU; bad counts refused', async () => {
  const { spawner, master, tick } = await started({ workers: 2 });
  const up = master.scale(4);
  tick();
  assert.deepEqual(spawner.alive.map((w) => w.options.workerId), [1, 2, 3]);
  spawner.alive[2]!.ready();
  tick();
  assert.deepEqual(spawner.alive.map((w) => w.options.workerId), [1, 2, 3, 4]);
  spawner.alive[3]!.ready();
  tick();
  assert.deepEqual(await up, { from: 2, to: 4 });

  const down = master.scale(2);
  tick();
  const four = spawner.alive.find((w) => w.options.workerId === 4)!;
  const three = spawner.alive.find((w) => w.options.workerId === 3)!;
  assert.deepEqual([three.sent, four.sent], [[], [{ type: 'drain' }]]);
  four.exit(EXIT_OK);
  tick();
  assert.deepEqual(three.sent, [{ type: 'drain' }]);
  three.exit(EXIT_OK);
  tick();
  assert.deepEqual(await down, { from: 4, to: 2 });

  master.enqueue({ type: 'ttin' });
  tick();
  assert.equal(spawner.alive.length, 3);
  const zero = master.scale(0);
  tick();
  await assert.rejects(zero, (err: unknown) => codeOf(err) === 'ERR_CONTROL_BAD_ARGS');
});

test('stats: counters from the workers, cpu/memory sampled, the master line', async () => {
  const { spawner, master, tick, clock } = await started({ workers: 2 });
  spawner.alive[0]!.emit({ type: 'stats', requests: 7, inflight: 1, timeouts: 3 });
  tick(2500);
  assert.equal((await master.stats()).workers[0]!.memory, null, 'not sampled on demand');
  await master.sampleNow();
  const s = await master.stats();
  assert.deepEqual(
    { ...s.master, pid: 0, config: null },
    { pid: 0, version: '9.9.9', listen: '127.0.0.1:4000', generation: 1, uptime: 2.5, workers: 2, listenQueue: null, config: null, totals: { requests: 7, timeouts: 3, recycles: 0, restarts: 0 } },
  );
  assert.equal(s.master.config.app, '/srv/app.js', 'the config in effect');
  assert.equal(s.master.config.workers, 2);
  assert.deepEqual(s.workers[0], {
    id: 1, pid: 100, state: 'ready', generation: 1, uptime: 2.5, requests: 7, inflight: 1, timeouts: 3, restarts: 0, recycles: 0, recentRestarts: 0, lastExit: null, cpu: 1.5, memory: 1024,
  });
  assert.equal(clock.now() > 0, true);
});

test('stats master.totals: a worker that died keeps its last reported counters; its restart counts once', async () => {
  const { spawner, master, tick } = await started({ workers: 2 });
  spawner.alive[0]!.emit({ type: 'stats', requests: 7, inflight: 0, timeouts: 3 });
  spawner.alive[1]!.emit({ type: 'stats', requests: 5, inflight: 0, timeouts: 1 });
  tick();
  spawner.alive[0]!.exit(null, 'SIGKILL');
  tick();
  const after = (await master.stats()).master.totals;
  assert.deepEqual(after, { requests: 12, timeouts: 4, recycles: 0, restarts: 1 });
  assert.equal(sumRows((await master.stats()).workers.map((w) => w.requests)), 5, 'the rows alone forget the dead worker');
});

test('messages and exits from unknown pids are logged and ignored; a spawn failure backs the slot off', async () => {
  const { spawner, log, master, tick } = await started({ workers: 2 });
  master.enqueue({ type: 'worker-message', pid: 4242, message: { type: 'ready' } });
  master.enqueue({ type: 'worker-exit', pid: 4243, code: 0, signal: null });
  tick();
  assert.ok(log.has('message ready from unknown pid 4242; ignored'));
  spawner.failNext = true;
  spawner.alive[0]!.exit(null, 'SIGKILL');
  tick();
  assert.ok(log.has('worker 1: could not start a process; retrying'));
  tick(60_000);
  assert.equal(spawner.alive.length, 2);
});

test('reload with surge 2 starts two new workers at once after the canary; a stop during a reload rejects it', async () => {
  const { spawner, master, tick } = await started({ workers: 4, reloadSurge: 2 });
  const reload = master.reload();
  tick();
  assert.equal(spawner.ofGeneration(2).length, 1); // the canary alone
  spawner.ofGeneration(2)[0]!.ready();
  tick();
  assert.deepEqual(spawner.ofGeneration(2).map((w) => w.options.workerId), [1, 2, 3]);
  const stopping = master.stop();
  tick();
  await stopping;
  await assert.rejects(reload, (err: unknown) => codeOf(err) === 'ERR_STOPPING');
  // Every process, old or new, is told to go; nothing new starts.
  const before = spawner.all.length;
  for (const w of spawner.alive) assert.ok(w.sent.length + w.signals.length > 0, `pid ${w.pid} was not stopped`);
  for (const w of spawner.alive) w.exit(0);
  tick();
  assert.equal(spawner.all.length, before);
  assert.equal(await master.done, 0);
});

test('an unexpected error while applying an action is logged and the loop goes on', async () => {
  const { spawner, log, master, tick } = await started({ workers: 2 });
  const [w1, w2] = spawner.alive;
  w1!.send = () => {
    throw new Error('channel exploded');
  };
  master.enqueue({ type: 'stop' });
  tick();
  assert.ok(log.has('unexpected error in the master loop; continuing'));
  assert.deepEqual(w2!.sent, [{ type: 'drain' }]); // the other worker was still told to drain
  w2!.exit(0);
  w1!.exit(null, 'SIGKILL');
  tick();
  assert.equal(await master.done, 0);
});

test('scaling down forgets a retired slot that was waiting out a backoff', async () => {
  const { spawner, master, tick } = await started({ workers: 2 });
  const w2 = spawner.alive.find((w) => w.options.workerId === 2)!;
  w2.exit(1);
  tick();
  const replacement = spawner.alive.find((w) => w.options.workerId === 2)!;
  replacement.exit(1); // second short-lived exit: backoff
  tick();
  assert.deepEqual((await master.stats()).workers.map((r) => [r.id, r.state]), [[1, 'ready'], [2, 'backoff']]);
  const down = master.scale(1);
  tick();
  assert.deepEqual(await down, { from: 2, to: 1 });
  assert.deepEqual((await master.stats()).workers.map((r) => [r.id, r.state]), [[1, 'ready']]);
  tick(60_000);
  assert.equal(spawner.alive.length, 1);
});

test('a broken invariant (InternalError) stops the workers and ends with exit code 1', async () => {
  const { spawner, log, master, tick } = await started({ workers: 3 });
  const [w1, w2, w3] = spawner.alive;
  // Any InternalError thrown inside the loop counts; here the scale-down's drain of worker 3 hits one.
  w3!.send = () => {
    throw new InternalError('worker table out of sync');
  };
  void master.scale(2).catch(() => undefined);
  tick();
  assert.ok(log.has('broken invariant in the master; stopping'), log.lines.join('\n'));
  assert.deepEqual([w1!.sent, w2!.sent], [[{ type: 'drain' }], [{ type: 'drain' }]]);
  for (const w of spawner.alive) w.exit(0);
  tick();
  assert.equal(await master.done, 1);
});

test('a new worker that fails to load after the canary ends the reload (no endless retry); serving workers stay', async () => {
  const { spawner, master, tick } = await started({ workers: 2 });
  const [old1, old2] = spawner.alive;
  const reload = master.reload();
  tick();
  spawner.ofGeneration(2)[0]!.ready();
  tick();
  old1!.exit(0);
  const second = spawner.ofGeneration(2)[1]!;
  second.emit({ type: 'load-failed', error: { code: 'ERR_APP_LOAD_FAILED', message: 'changed again, now broken' } });
  second.exit(EXIT_APP_LOAD_FAILED);
  tick();
  await assert.rejects(reload, (err: unknown) => {
    assert.equal(codeOf(err), 'ERR_RELOAD_FAILED');
    assert.match((err as Error).message, /failed to load after 1 of its workers started/);
    return true;
  });
  assert.deepEqual(old2!.sent, []); // slot 2 keeps its old worker
  tick(60_000);
  assert.deepEqual(spawner.alive.map((w) => [w.options.workerId, w.options.generation]).sort(), [[1, 2], [2, 1]]);
});

test('reload with a new config: later spawns use it; a failed canary puts the old one back', async () => {
  const { spawner, master, tick } = await started({ workers: 1 });
  const next = { ...(await master.stats()).master.config, app: '/srv/next.js' } as unknown as Config;
  const reply = master.reload(next);
  tick();
  const [canary] = spawner.ofGeneration(2);
  assert.equal(canary!.options.app, '/srv/next.js', 'the new generation loads the new config');
  assert.equal((await master.stats()).master.config.app, '/srv/next.js');
  canary!.emit({ type: 'load-failed', error: { code: 'ERR_APP_LOAD_FAILED', message: 'boom' } });
  canary!.exit(EXIT_APP_LOAD_FAILED);
  tick();
  await assert.rejects(reply, { code: 'ERR_RELOAD_FAILED' });
  assert.equal((await master.stats()).master.config.app, '/srv/app.js', 'the old config serves again');
});

test('max-connections: a ready worker that asks for the listening socket gets it; a draining one does not', async () => {
  const { spawner, listener, master, tick } = await started({ workers: 1, maxConnections: 1 });
  const w = spawner.alive[0]!;
  assert.equal(w.options.maxConnections, 1);
  w.emit({ type: 'listener-wanted' });
  tick();
  assert.deepEqual(w.sent, [{ type: 'listener' }]);
  assert.equal(w.handles[0], listener.socketHandle);
  void master.reload();
  tick();
  for (const n of spawner.alive) if (n !== w) n.ready();
  tick();
  assert.ok(w.sent.some((m) => m.type === 'drain'), 'the old worker was told to drain');
  const before = w.sent.length;
  w.emit({ type: 'listener-wanted' }); // a request that crossed the drain
  tick();
  assert.equal(w.sent.length, before, 'nothing sent to a draining worker');
});

// Issue 13 item 3: a stop of a socket we bound empties its accept queue before the workers drain (stop-emptying.ts).
function emptyingSetup(overrides: Partial<Config> = {}) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const log = new FakeLog();
  const listener = Object.assign(new FakeListener(), { unlinked: 0, unlinkPath(this: { unlinked: number }) { this.unlinked++; } });
  const queue = { depth: 0, reads: 0, readable: true };
  const master = new Master({
    config: testConfig({ gracefulTimeoutMs: 5000, ...overrides }),
    listener,
    spawnWorker: spawner.spawn,
    log,
    clock,
    sampleUsage: async () => new Map(),
    readListenQueue: async () => {
      queue.reads++;
      return queue.readable ? { depth: queue.depth, limit: 511 } : null;
    },
  });
  return { clock, spawner, log, listener, master, queue, tick: (ms = 0) => clock.advance(ms) };
}

async function stoppedWhileQueued(overrides: Partial<Config> = {}) {
  const s = emptyingSetup(overrides);
  const ready = s.master.start();
  s.tick();
  for (const w of s.spawner.alive) w.ready();
  s.tick();
  await ready;
  s.queue.depth = 3;
  const stopping = s.master.stop();
  s.tick();
  await stopping;
  await flush();
  s.tick();
  return s;
}

test('stop with connections queued: workers keep serving until a reading says 0, then the socket closes, then they drain', async () => {
  const { spawner, log, listener, queue, master, tick } = await stoppedWhileQueued({ listen: { kind: 'unix', path: '/run/app.sock' } });
  assert.equal(listener.unlinked, 1, 'the unix path goes at the start of the stop');
  assert.ok(log.has('stopping: draining 2 workers (graceful timeout 5s)'));
  assert.ok(log.has('stopping: emptying the listen queue (3 waiting)'), log.lines.join('\n'));
  for (const w of spawner.alive) assert.deepEqual(w.sent, []);
  const reads = queue.reads;
  tick(25);
  await flush();
  tick();
  assert.equal(queue.reads, reads + 1, 'read again every 25 ms');
  assert.equal(listener.closed, 0);
  queue.depth = 0;
  tick(25);
  await flush();
  tick();
  assert.equal(listener.closed, 1);
  // The stop's one graceful timeout (5 s) less the 50 ms of emptying.
  for (const w of spawner.alive) assert.deepEqual(w.sent, [{ type: 'drain', graceMs: 4950 }]);
  assert.ok(log.has('listen queue empty after 50 ms; draining 2 workers'), log.lines.join('\n'));
  const after = queue.reads;
  for (const w of spawner.alive) w.exit(EXIT_OK);
  tick(1000);
  assert.equal(await master.done, 0);
  assert.equal(queue.reads, after, 'no reading once empty');
});

test('stop emptying is bounded by the graceful timeout; an unreadable queue or a systemd socket is not waited on', async () => {
  const bounded = await stoppedWhileQueued();
  assert.equal(bounded.listener.unlinked, 1); // a no-op for TCP in the real listener
  bounded.tick(4999);
  await flush();
  bounded.tick();
  for (const w of bounded.spawner.alive) assert.deepEqual(w.sent, []);
  bounded.tick(1);
  await flush();
  bounded.tick();
  // The emptying took the whole graceful timeout: what is still in flight is closed at once (one bound per stop).
  for (const w of bounded.spawner.alive) assert.deepEqual(w.sent, [{ type: 'drain', graceMs: 0 }]);
  assert.ok(bounded.log.has('listen queue still held 3 connections after the graceful timeout'), bounded.log.lines.join('\n'));

  const unreadable = emptyingSetup();
  const ready = unreadable.master.start();
  unreadable.tick();
  for (const w of unreadable.spawner.alive) w.ready();
  unreadable.tick();
  await ready;
  unreadable.queue.readable = false;
  void unreadable.master.stop();
  unreadable.tick();
  await flush();
  unreadable.tick();
  for (const w of unreadable.spawner.alive) assert.deepEqual(w.sent, [{ type: 'drain', graceMs: 5000 }]);
  assert.ok(unreadable.log.has('listen queue cannot be read; draining 2 workers now'));

  const inherited = emptyingSetup({ listen: { kind: 'fd', fd: 3 } });
  const up = inherited.master.start();
  inherited.tick();
  for (const w of inherited.spawner.alive) w.ready();
  inherited.tick();
  await up;
  inherited.queue.depth = 3;
  void inherited.master.stop();
  inherited.tick();
  for (const w of inherited.spawner.alive) assert.deepEqual(w.sent, [{ type: 'drain' }]);
  assert.equal(inherited.listener.unlinked, 0);
  assert.equal(inherited.listener.closed, 0);
});

test('stop: the emptying ends with the listener closeForStop (TCP: backlog shrunk to 0 first), before any drain', async () => {
  const s = emptyingSetup();
  const order: string[] = [];
  Object.assign(s.listener, { closeForStop: () => order.push('closeForStop') });
  const ready = s.master.start();
  s.tick();
  for (const w of s.spawner.alive) {
    w.ready();
    const send = w.send.bind(w);
    w.send = (m, h) => (order.push(m.type), send(m, h));
  }
  s.tick();
  await ready;
  void s.master.stop();
  s.tick();
  await flush();
  s.tick();
  assert.deepEqual(order, ['closeForStop', 'drain', 'drain']);
  assert.equal(s.listener.closed, 0);
});

test('a TCP stop refuses new connections first, and calls the queue empty only after the SYN settle time', async () => {
  const s = emptyingSetup();
  const refused: string[] = [];
  Object.assign(s.listener, { refuseNewConnections: () => (refused.push('refused'), null) });
  const ready = s.master.start();
  s.tick();
  for (const w of s.spawner.alive) w.ready();
  s.tick();
  await ready;
  s.queue.depth = 0;
  void s.master.stop();
  s.tick();
  await flush();
  s.tick();
  assert.deepEqual(refused, ['refused'], 'at the start of the stop, once');
  assert.ok(s.log.has('stopping: new connections refused'), s.log.lines.join('\n'));
  // Empty at once, but a handshake begun before the refusal may still land in the queue: not closed yet.
  for (const w of s.spawner.alive) assert.deepEqual(w.sent, []);
  assert.equal(s.listener.closed, 0);
  for (let t = 0; t < 100; t += 25) {
    s.tick(25);
    await flush();
    s.tick();
  }
  assert.equal(s.listener.closed, 1, 'closed once the settle time (100 ms) has passed with the queue empty');
  for (const w of s.spawner.alive) assert.equal(w.sent[0]?.type, 'drain');

  // Without the addon: a warning, and the stop goes on with the shrink at the close.
  const plain = emptyingSetup();
  Object.assign(plain.listener, { refuseNewConnections: () => 'the syn_filter addon cannot load (not built)' });
  const up = plain.master.start();
  plain.tick();
  for (const w of plain.spawner.alive) w.ready();
  plain.tick();
  await up;
  void plain.master.stop();
  plain.tick();
  await flush();
  plain.tick();
  assert.ok(plain.log.has('cannot refuse new connections (the syn_filter addon cannot load (not built))'), plain.log.lines.join('\n'));
  assert.equal(plain.listener.closed, 1, 'no settle time without the refusal');
});
