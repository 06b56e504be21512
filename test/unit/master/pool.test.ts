// pool.ts decisions: a view of the pool in, actions out. Pure: no processes, no clock but the numbers given.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, classifyExit, decide, DRAIN_KILL_GRACE_MS, respawnAllowedAt, RESPAWN_WINDOW_MS, RESPAWNS_PER_WINDOW, type ExitInput, type PoolView, type PoolWorker } from '../../../src/master/pool.js';
import { EXIT_APP_LOAD_FAILED } from '../../../src/worker/exit-codes.js';

let nextPid = 1000;
function w(id: number, state: PoolWorker['state'], generation = 1, since = 0): PoolWorker {
  return { id, pid: nextPid++, generation, state, since, killedFor: null };
}

function view(over: Partial<PoolView> = {}): PoolView {
  return {
    now: 1000,
    phase: 'running',
    target: 2,
    generation: 1,
    reload: null,
    reloadSurge: 1,
    workers: [],
    slots: new Map([
      [1, { backoffUntil: null }],
      [2, { backoffUntil: null }],
    ]),
    bootTimeoutMs: 30_000,
    gracefulTimeoutMs: 10_000,
    forceStop: false,
    ...over,
  };
}

const types = (v: PoolView) => decide(v).actions.map((a) => a.type);
const spawns = (v: PoolView) => decide(v).actions.filter((a) => a.type === 'spawn');
const drains = (v: PoolView) => decide(v).actions.filter((a) => a.type === 'drain');

test('initial start spawns every slot at once, then reports all-ready once all are ready', () => {
  const empty = view({ phase: 'starting', target: 3, slots: new Map() });
  assert.deepEqual(spawns(empty), [1, 2, 3].map((id) => ({ type: 'spawn', id, generation: 1 })));
  const partly = view({ phase: 'starting', target: 2, workers: [w(1, 'ready'), w(2, 'starting')] });
  assert.deepEqual(types(partly), []);
  assert.deepEqual(types(view({ phase: 'starting', workers: [w(1, 'ready'), w(2, 'ready')] })), ['all-ready']);
});

test('a slot with no worker is respawned at once, or when its backoff ends (with a wake-up at that time)', () => {
  assert.deepEqual(spawns(view({ workers: [w(1, 'ready')] })), [{ type: 'spawn', id: 2, generation: 1 }]);
  const backoff = view({ workers: [w(1, 'ready')], slots: new Map([[1, { backoffUntil: null }], [2, { backoffUntil: 1400 }]]) });
  assert.deepEqual(spawns(backoff), []);
  assert.equal(decide(backoff).wakeAt, 1400);
  assert.deepEqual(spawns({ ...backoff, now: 1400 }), [{ type: 'spawn', id: 2, generation: 1 }]);
});

test('a worker not ready within the boot timeout is killed; a draining one after graceful timeout + grace', () => {
  const starting = w(1, 'starting', 1, 0);
  assert.deepEqual(decide(view({ now: 29_999, workers: [starting, w(2, 'ready')] })).actions, []);
  assert.equal(decide(view({ now: 29_999, workers: [starting, w(2, 'ready')] })).wakeAt, 30_000);
  assert.deepEqual(decide(view({ now: 30_000, workers: [starting, w(2, 'ready')] })).actions, [
    { type: 'kill', pid: starting.pid, cause: 'boot-timeout' },
  ]);
  const draining = w(3, 'draining', 1, 0);
  const at = 10_000 + DRAIN_KILL_GRACE_MS;
  assert.deepEqual(decide(view({ now: at - 1, workers: [w(1, 'ready'), w(2, 'ready'), draining] })).actions, []);
  assert.deepEqual(decide(view({ now: at, workers: [w(1, 'ready'), w(2, 'ready'), draining] })).actions, [
    { type: 'kill', pid: draining.pid, cause: 'drain-timeout' },
  ]);
  // Never twice: the kill is already under way.
  assert.deepEqual(decide(view({ now: at + 5000, workers: [w(1, 'ready'), w(2, 'ready'), { ...draining, killedFor: 'drain-timeout' }] })).actions, []);
});

const policy = { minMs: 100, maxMs: 1000 };
function exitInput(over: Omit<Partial<ExitInput>, 'worker'> & { worker?: Partial<ExitInput['worker']> } = {}): ExitInput {
  const { worker, ...rest } = over;
  return {
    now: 5000,
    phase: 'running',
    target: 2,
    reload: null,
    worker: { id: 1, generation: 1, state: 'ready', startedAt: 4000, drainReason: null, killedFor: null, ...worker },
    code: null,
    signal: 'SIGKILL',
    failures: 0,
    spawnedAt: [],
    backoff: policy,
    ...rest,
  };
}

test('a boot failure (exit before ready) respawns at once the first time, then backs off doubling up to the maximum', () => {
  const boot = { state: 'starting' as const };
  assert.deepEqual(classifyExit(exitInput({ worker: boot })), { kind: 'crash', respawn: true, failures: 1, delayMs: 0 });
  assert.deepEqual(classifyExit(exitInput({ failures: 1, worker: boot })), { kind: 'crash', respawn: true, failures: 2, delayMs: 100 });
  assert.deepEqual(classifyExit(exitInput({ failures: 2, worker: boot })), { kind: 'crash', respawn: true, failures: 3, delayMs: 200 });
  assert.deepEqual(classifyExit(exitInput({ failures: 2, worker: { ...boot, killedFor: 'boot-timeout' } })).kind, 'crash');
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map((f) => backoffDelay(f, policy)),
    [0, 100, 200, 400, 800, 1000, 1000, 1000],
  );
});

test('a worker that was ready is replaced at once however often its slot crashed, and its boot failures are forgiven', () => {
  // Issue 13: a request that calls process.exit() killed each respawn; uptime-keyed backoff climbed to 10 s.
  const ready = exitInput({ failures: 6, now: 5000, worker: { state: 'ready', startedAt: 4900 } });
  assert.deepEqual(classifyExit(ready), { kind: 'crash', respawn: true, failures: 0, delayMs: 0 });
  // One respawn in the last second is within the limit of 2.
  assert.deepEqual(classifyExit({ ...ready, spawnedAt: [4900] }), { kind: 'crash', respawn: true, failures: 0, delayMs: 0 });
  assert.deepEqual(classifyExit({ ...ready, spawnedAt: [3000, 4900] }), { kind: 'crash', respawn: true, failures: 0, delayMs: 0 });
});

test('a slot spawns at most 2 workers per second: the third waits until the window after the older one ends', () => {
  const ready = exitInput({ now: 5000, worker: { state: 'ready', startedAt: 4700 } });
  assert.deepEqual(classifyExit({ ...ready, spawnedAt: [4400, 4700] }), { kind: 'crash', respawn: true, failures: 0, delayMs: 400 });
  assert.deepEqual(classifyExit({ ...ready, spawnedAt: [4000, 4700] }), { kind: 'crash', respawn: true, failures: 0, delayMs: 0 });
  // A boot failure waits for the longer of its backoff and the rate limit.
  const boot = exitInput({ now: 5000, failures: 1, worker: { state: 'starting', startedAt: 4950 } });
  assert.deepEqual(classifyExit({ ...boot, spawnedAt: [4950, 4960] }), { kind: 'crash', respawn: true, failures: 2, delayMs: 950 });
  assert.equal(respawnAllowedAt([1, 2, 3].slice(-RESPAWNS_PER_WINDOW)), 2 + RESPAWN_WINDOW_MS);
  assert.equal(respawnAllowedAt([7]), -Infinity);
});

test('never every slot in backoff with no worker up: the slot whose backoff ends first spawns now', () => {
  const slots = new Map([
    [1, { backoffUntil: 9000, spawnedAt: [1000, 2000], lastExit: { code: null } }],
    [2, { backoffUntil: 6000, spawnedAt: [1000, 2000], lastExit: { code: 1 } }],
  ]);
  const v = view({ now: 5000, workers: [], slots });
  assert.deepEqual(spawns(v), [{ type: 'spawn', id: 2, generation: 1 }]);
  // Still within the rate limit: it waits for its window, not for its backoff.
  const recent = new Map([...slots, [2, { ...slots.get(2)!, spawnedAt: [4500, 4800] }]]);
  assert.deepEqual(spawns({ ...v, slots: recent }), []);
  assert.equal(decide({ ...v, slots: recent }).wakeAt, 5500);
  // A worker up (or coming up) elsewhere: the backoff stands.
  assert.deepEqual(spawns({ ...v, workers: [w(1, 'starting')] }), []);
  // An app that cannot load would only fail again: no hurry.
  const broken = new Map([...slots].map(([id, s]) => [id, { ...s, lastExit: { code: EXIT_APP_LOAD_FAILED } }]));
  assert.deepEqual(spawns({ ...v, slots: broken }), []);
  assert.equal(decide({ ...v, slots: broken }).wakeAt, 6000);
});

test('a crash in a slot above the target (being scaled down) is not respawned', () => {
  assert.equal((classifyExit(exitInput({ worker: { id: 3 } })) as { respawn: boolean }).respawn, false);
});

test('a drained or stopped worker exiting is planned, not a crash', () => {
  assert.deepEqual(classifyExit(exitInput({ code: 0, signal: null, worker: { state: 'draining', drainReason: 'reload' } })), {
    kind: 'planned',
    reason: 'reload',
  });
  assert.deepEqual(classifyExit(exitInput({ phase: 'stopping', worker: { state: 'starting' } })), { kind: 'planned', reason: 'stopped' });
});

test('a load failure, crash or boot timeout during the initial start halts the master (no crash loop)', () => {
  const starting = { state: 'starting' as const };
  assert.deepEqual(classifyExit(exitInput({ phase: 'starting', code: EXIT_APP_LOAD_FAILED, signal: null, worker: starting })), {
    kind: 'halt',
    cause: 'load-failed',
  });
  assert.deepEqual(classifyExit(exitInput({ phase: 'starting', worker: starting })), { kind: 'halt', cause: 'crashed' });
  assert.deepEqual(classifyExit(exitInput({ phase: 'starting', worker: { ...starting, killedFor: 'boot-timeout' } })), {
    kind: 'halt',
    cause: 'boot-timeout',
  });
  // A worker that had been ready and then crashed while others still start is an ordinary crash.
  assert.equal(classifyExit(exitInput({ phase: 'starting' })).kind, 'crash');
});

test('stop drains every live worker, kills stragglers after the deadline, and reports stopped when none is left', () => {
  const a = w(1, 'ready');
  const b = w(2, 'starting', 1, 900);
  assert.deepEqual(decide(view({ phase: 'stopping', workers: [a, b] })).actions, [
    { type: 'drain', pid: a.pid, reason: 'stopped' },
    { type: 'drain', pid: b.pid, reason: 'stopped' },
  ]);
  const late = w(1, 'draining', 1, 0);
  assert.deepEqual(decide(view({ phase: 'stopping', now: 12_000, workers: [late] })).actions, [
    { type: 'kill', pid: late.pid, cause: 'drain-timeout' },
  ]);
  assert.deepEqual(types(view({ phase: 'stopping', workers: [] })), ['stopped']);
});

// Issue 13: a stop of a socket we bound first empties its listen queue; the workers drain only after the close.
test('stop while emptying the listen queue: workers stay ready until a reading says empty, then close-listener and drain', () => {
  const a = w(1, 'ready');
  const b = w(2, 'ready');
  const emptying = { until: 11_000, empty: false, closed: false };
  const waiting = decide(view({ phase: 'stopping', workers: [a, b], emptying }));
  assert.deepEqual(waiting.actions, []);
  assert.equal(waiting.wakeAt, 11_000);
  // The close comes first: a drained worker closes its copy, and the last copy closed resets what is still queued.
  assert.deepEqual(decide(view({ phase: 'stopping', workers: [a, b], emptying: { ...emptying, empty: true } })).actions, [
    { type: 'close-listener', reason: 'empty' },
    // What is left of the graceful timeout: one bound for the whole stop, emptying included.
    { type: 'drain', pid: a.pid, reason: 'stopped', graceMs: 10_000 },
    { type: 'drain', pid: b.pid, reason: 'stopped', graceMs: 10_000 },
  ]);
  // Closed once: later turns only drain what is left.
  assert.deepEqual(types(view({ phase: 'stopping', workers: [a, { ...b, state: 'draining' }], emptying: { ...emptying, empty: true, closed: true } })), ['drain']);
  // Bounded by the graceful timeout: then close and drain anyway.
  assert.deepEqual(types(view({ phase: 'stopping', now: 11_000, workers: [a, b], emptying })), ['close-listener', 'drain', 'drain']);
  assert.deepEqual(decide(view({ phase: 'stopping', now: 11_000, workers: [a], emptying })).actions[0], { type: 'close-listener', reason: 'timeout' });
  // No ready worker to accept (a stop during boot): waiting would only delay the resets.
  const booting = w(1, 'starting', 1, 900);
  assert.deepEqual(types(view({ phase: 'stopping', workers: [booting], emptying })), ['close-listener', 'drain']);
  assert.deepEqual(types(view({ phase: 'stopping', workers: [], emptying })), ['close-listener', 'stopped']);
  // Deadlines still apply while emptying: a worker blocked past --worker-timeout is killed.
  const blocked = { ...w(2, 'ready'), blockedSince: 500 };
  assert.deepEqual(types(view({ phase: 'stopping', workers: [a, blocked], emptying })), ['kill']);
  // A second stop request kills at once, emptying or not (the listener closes when the master finishes).
  assert.deepEqual(types(view({ phase: 'stopping', forceStop: true, workers: [a], emptying })), ['drain', 'kill']);
});

test('scale up opens one new slot at a time; scale down drains the highest slot, one at a time', () => {
  const up = view({ target: 4, workers: [w(1, 'ready'), w(2, 'ready')] });
  assert.deepEqual(spawns(up), [{ type: 'spawn', id: 3, generation: 1 }]);
  const slots3 = new Map([...up.slots, [3, { backoffUntil: null }]]);
  assert.deepEqual(spawns({ ...up, slots: slots3, workers: [w(1, 'ready'), w(2, 'ready'), w(3, 'starting')] }), []);
  assert.deepEqual(types({ ...up, slots: slots3, workers: [w(1, 'ready'), w(2, 'ready'), w(3, 'ready')] }), ['spawn']);

  const four = [w(1, 'ready'), w(2, 'ready'), w(3, 'ready'), w(4, 'ready')];
  assert.deepEqual(drains(view({ target: 2, workers: four })), [{ type: 'drain', pid: four[3]!.pid, reason: 'stopped' }]);
  const fourDraining = [four[0]!, four[1]!, four[2]!, { ...four[3]!, state: 'draining' as const }];
  assert.deepEqual(decide(view({ target: 2, workers: fourDraining })).actions, []);
  assert.deepEqual(types(view({ target: 2, workers: [four[0]!, four[1]!] })), ['settled']);
});

test('reload, surge 1: canary first, then one slot at a time; old workers drain only after their replacement is ready', () => {
  const old1 = w(1, 'ready', 1);
  const old2 = w(2, 'ready', 1);
  const r = { generation: 2, canaryPassed: false };
  assert.deepEqual(decide(view({ reload: r, workers: [old1, old2] })).actions, [{ type: 'spawn', id: 1, generation: 2 }]);
  // Canary loading: nothing else starts, nothing old is touched.
  const canary = w(1, 'starting', 2);
  assert.deepEqual(decide(view({ reload: r, workers: [old1, old2, canary] })).actions, []);
  // Canary ready: drain slot 1's old worker and start slot 2's replacement.
  const canaryReady = { ...canary, state: 'ready' as const };
  const passed = { generation: 2, canaryPassed: true };
  assert.deepEqual(decide(view({ reload: passed, workers: [old1, old2, canaryReady] })).actions, [
    { type: 'drain', pid: old1.pid, reason: 'reload' },
    { type: 'spawn', id: 2, generation: 2 },
  ]);
  // Everything new is ready but an old worker still drains: not complete yet.
  const new2 = w(2, 'ready', 2);
  const oldDraining = { ...old2, state: 'draining' as const };
  assert.deepEqual(types(view({ reload: passed, workers: [canaryReady, new2, oldDraining] })), []);
  assert.deepEqual(types(view({ reload: passed, workers: [canaryReady, new2] })), ['reload-complete']);
});

test('reload, surge 2: after the canary, two new workers start at once', () => {
  const olds = [1, 2, 3, 4].map((id) => w(id, 'ready', 1));
  const slots = new Map([1, 2, 3, 4].map((id) => [id, { backoffUntil: null }]));
  const canary = w(1, 'ready', 2);
  const v = view({ target: 4, slots, reloadSurge: 2, reload: { generation: 2, canaryPassed: true }, workers: [...olds, canary] });
  assert.deepEqual(spawns(v), [
    { type: 'spawn', id: 2, generation: 2 },
    { type: 'spawn', id: 3, generation: 2 },
  ]);
  // Before the canary is ready, the surge does not apply.
  const before = { ...v, reload: { generation: 2, canaryPassed: false }, workers: [...olds] };
  assert.deepEqual(spawns(before), [{ type: 'spawn', id: 1, generation: 2 }]);
});

test('reload canary: a load failure, crash or boot timeout fails the reload', () => {
  const reload = { generation: 2, canaryPassed: false };
  const canary = { generation: 2, state: 'starting' as const };
  assert.deepEqual(classifyExit(exitInput({ reload, code: EXIT_APP_LOAD_FAILED, signal: null, worker: canary })), {
    kind: 'canary-failed',
    cause: 'load-failed',
  });
  assert.deepEqual(classifyExit(exitInput({ reload, worker: canary })), { kind: 'canary-failed', cause: 'crashed' });
  assert.deepEqual(classifyExit(exitInput({ reload, worker: { ...canary, killedFor: 'boot-timeout' } })), {
    kind: 'canary-failed',
    cause: 'boot-timeout',
  });
  // An old worker crashing during the reload is an ordinary crash.
  assert.equal(classifyExit(exitInput({ reload })).kind, 'crash');
  // After the canary: a new worker that crashes is respawned, one that cannot load ends the reload (no endless loop).
  const passed = { generation: 2, canaryPassed: true };
  assert.equal(classifyExit(exitInput({ reload: passed, worker: canary })).kind, 'crash');
  assert.deepEqual(classifyExit(exitInput({ reload: passed, code: EXIT_APP_LOAD_FAILED, signal: null, worker: canary })), {
    kind: 'canary-failed',
    cause: 'load-failed',
  });
  // The canary's boot deadline is enforced like any other.
  const starting = w(1, 'starting', 2, 0);
  assert.deepEqual(decide(view({ now: 30_000, reload, workers: [w(1, 'ready'), w(2, 'ready'), starting] })).actions, [
    { type: 'kill', pid: starting.pid, cause: 'boot-timeout' },
  ]);
});

// The pool decides every operation on a worker or a slot; lifecycle.ts only changes what is wanted (issue 11).
test('a second stop request: every worker left is marked draining (a planned exit) and killed, once', () => {
  const ready = w(1, 'ready');
  const draining = w(2, 'draining');
  const dying = { ...w(3, 'ready'), killedFor: 'drain-timeout' as const };
  const actions = decide(view({ phase: 'stopping', target: 3, forceStop: true, workers: [ready, draining, dying] })).actions;
  assert.deepEqual(actions, [
    { type: 'drain', pid: ready.pid, reason: 'stopped' },
    { type: 'kill', pid: ready.pid, cause: 'stop-now' },
    { type: 'kill', pid: draining.pid, cause: 'stop-now' },
  ]);
  // Without the second request the stop only drains.
  assert.deepEqual(types(view({ phase: 'stopping', target: 3, workers: [ready, draining, dying] })), ['drain']);
});

test('after a failed reload, new workers still loading are drained; new ones already serving stay', () => {
  const loading = w(1, 'starting', 3);
  const serving = w(2, 'ready', 3);
  const old = w(3, 'ready', 2);
  const v = view({ target: 3, generation: 2, workers: [loading, serving, old], slots: new Map([[1, { backoffUntil: null }], [2, { backoffUntil: null }], [3, { backoffUntil: null }]]) });
  assert.deepEqual(drains(v), [{ type: 'drain', pid: loading.pid, reason: 'reload' }]);
  // During the reload itself the same worker is the new generation coming up: left alone.
  assert.deepEqual(drains({ ...v, reload: { generation: 3, canaryPassed: true } }), []);
});

test('a slot above the target is forgotten once no process of it is left, not before', () => {
  const slots = new Map([[1, { backoffUntil: null }], [2, { backoffUntil: 5000 }], [3, { backoffUntil: null }]]);
  const forgets = (v: PoolView) => decide(v).actions.filter((a) => a.type === 'forget');
  assert.deepEqual(forgets(view({ target: 1, workers: [w(1, 'ready'), w(3, 'draining')], slots })), [{ type: 'forget', id: 2 }]);
  assert.deepEqual(forgets(view({ target: 1, workers: [w(1, 'ready')], slots })), [
    { type: 'forget', id: 2 },
    { type: 'forget', id: 3 },
  ]);
  assert.deepEqual(forgets(view({ target: 3, workers: [w(1, 'ready')], slots })), []);
});
