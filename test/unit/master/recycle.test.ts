// Recycling as pool.ts decides it (recycle.ts + decide): a view in, actions out, and a small simulation of a pool
// under recycling that checks capacity at every step. Pure: no processes, no clock but the numbers given.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyExit, decide, type PoolAction, type PoolView, type PoolWorker } from '../../../src/master/pool.js';
import { overKillLine, pickRecycles, reachedLimit, requestLimitFor, type RecycleCandidate } from '../../../src/master/recycle.js';
import type { RecyclePolicy } from '../../../src/config/config.js';

const MiB = 1024 * 1024;
const off: RecyclePolicy = { maxRequests: 0, maxRequestsJitter: 0, maxMemoryBytes: 0, maxLifetimeMs: 0, surge: 1 };

let nextPid = 5000;
function worker(id: number, over: Partial<PoolWorker> = {}): PoolWorker {
  return { id, pid: nextPid++, generation: 1, state: 'ready', since: 0, startedAt: 0, killedFor: null, requests: 0, requestLimit: null, memory: null, recycling: null, ...over };
}

function view(workers: PoolWorker[], recycle: RecyclePolicy, over: Partial<PoolView> = {}): PoolView {
  return {
    now: 10_000,
    phase: 'running',
    target: 2,
    generation: 1,
    reload: null,
    reloadSurge: 1,
    workers,
    slots: new Map([
      [1, { backoffUntil: null }],
      [2, { backoffUntil: null }],
    ]),
    bootTimeoutMs: 30_000,
    gracefulTimeoutMs: 10_000,
    forceStop: false,
    recycle,
    ...over,
  };
}

const candidate = (over: Partial<RecycleCandidate> = {}): RecycleCandidate => ({
  id: 1, pid: 1, startedAt: 0, requests: 0, requestLimit: null, memory: null, ...over,
});

test('reachedLimit: each limit at its threshold, memory first; all off by default', () => {
  const p: RecyclePolicy = { ...off, maxMemoryBytes: 100 * MiB, maxLifetimeMs: 60_000 };
  assert.equal(reachedLimit(candidate({ requests: 10, requestLimit: 10 }), p, 0), 'max-requests');
  assert.equal(reachedLimit(candidate({ requests: 9, requestLimit: 10 }), p, 0), null);
  assert.equal(reachedLimit(candidate({ memory: 100 * MiB }), p, 0), null, 'at the limit is not over it');
  assert.equal(reachedLimit(candidate({ memory: 100 * MiB + 1, requests: 10, requestLimit: 10 }), p, 0), 'max-memory');
  assert.equal(reachedLimit(candidate({ startedAt: 1000 }), p, 60_999), null);
  assert.equal(reachedLimit(candidate({ startedAt: 1000 }), p, 61_000), 'max-lifetime');
  assert.equal(reachedLimit(candidate({ memory: 10 ** 12, requests: 10 ** 9, startedAt: 0 }), off, 10 ** 12), null);
});

test('requestLimitFor: max-requests plus a draw in [0, jitter], none when max-requests is 0', () => {
  const p = { ...off, maxRequests: 1000, maxRequestsJitter: 50 };
  assert.equal(requestLimitFor(p, () => 0), 1000);
  assert.equal(requestLimitFor(p, () => 0.999999), 1050);
  assert.equal(requestLimitFor(p, () => 0.5), 1025);
  assert.equal(requestLimitFor({ ...p, maxRequestsJitter: 0 }, () => 0.9), 1000);
  assert.equal(requestLimitFor({ ...p, maxRequests: 0 }, () => 0.5), null);
});

test('overKillLine: only above twice max-memory, never when max-memory is off', () => {
  const p = { ...off, maxMemoryBytes: 100 * MiB };
  assert.equal(overKillLine({ memory: 200 * MiB }, p), false);
  assert.equal(overKillLine({ memory: 200 * MiB + 1 }, p), true);
  assert.equal(overKillLine({ memory: 10 ** 12 }, off), false);
  assert.equal(overKillLine({ memory: null }, p), false);
});

test('pickRecycles: at most the surge less the slots already recycling; memory, then the oldest, first', () => {
  const p = { ...off, maxMemoryBytes: 100 * MiB, surge: 2 };
  const due = [
    candidate({ id: 1, pid: 11, startedAt: 5, requests: 9, requestLimit: 9 }),
    candidate({ id: 2, pid: 12, startedAt: 9, memory: 101 * MiB }),
    candidate({ id: 3, pid: 13, startedAt: 1, requests: 9, requestLimit: 9 }),
  ];
  assert.deepEqual(pickRecycles(due, 0, p, 0).picks, [
    { pid: 12, limit: 'max-memory' },
    { pid: 13, limit: 'max-requests' },
  ]);
  assert.deepEqual(pickRecycles(due, 1, p, 0).picks, [{ pid: 12, limit: 'max-memory' }]);
  assert.deepEqual(pickRecycles(due, 2, p, 0).picks, []);
  // The next lifetime end is a wake-up.
  assert.equal(pickRecycles([candidate({ startedAt: 100 })], 0, { ...off, maxLifetimeMs: 1000 }, 500).wakeAt, 1100);
});

test('decide: a worker at its limit is marked and its slot gets a replacement; it drains only once that is ready', () => {
  const p = { ...off, maxRequests: 100 };
  const old = worker(1, { requests: 100, requestLimit: 100 });
  const other = worker(2, { requests: 50, requestLimit: 100 });
  const a = decide(view([old, other], p)).actions;
  assert.deepEqual(a, [
    { type: 'recycle', pid: old.pid, limit: 'max-requests' },
    { type: 'spawn', id: 1, generation: 1 },
  ]);
  const marked = { ...old, recycling: 'max-requests' as const };
  const replacement = worker(1, { state: 'starting', startedAt: 10_000, since: 10_000 });
  assert.deepEqual(decide(view([marked, replacement, other], p)).actions, [], 'the old one serves while its replacement loads');
  const up = { ...replacement, state: 'ready' as const };
  assert.deepEqual(decide(view([marked, up, other], p)).actions, [{ type: 'drain', pid: old.pid, reason: 'recycled' }, { type: 'settled' }]);
});

test('decide: no recycling while starting, reloading or stopping, nor of a slot above the target', () => {
  const p = { ...off, maxRequests: 1 };
  const due = () => [worker(1, { requests: 5, requestLimit: 1 }), worker(2, { requests: 5, requestLimit: 1 })];
  const recycles = (v: PoolView) => decide(v).actions.filter((x) => x.type === 'recycle');
  assert.deepEqual(recycles(view(due(), p, { phase: 'starting' })), []);
  assert.deepEqual(recycles(view(due(), p, { reload: { generation: 2, canaryPassed: false } })), []);
  assert.deepEqual(recycles(view(due(), p, { phase: 'stopping' })), []);
  assert.equal(recycles(view(due(), p, { target: 1 })).length, 1, 'slot 2 is scaled away, not recycled');
  assert.equal(recycles(view(due(), p)).length, 1, 'surge 1: one slot at a time');
});

test('decide: a worker above twice max-memory is killed at once; its exit is a recycle, not a crash', () => {
  const p = { ...off, maxMemoryBytes: 100 * MiB };
  const huge = worker(1, { memory: 250 * MiB });
  const a = decide(view([huge, worker(2)], p)).actions;
  assert.deepEqual(a[0], { type: 'kill', pid: huge.pid, cause: 'max-memory' });
  const exit = classifyExit({
    now: 10_000, phase: 'running', target: 2, reload: null,
    worker: { id: 1, generation: 1, state: 'ready', startedAt: 0, drainReason: null, killedFor: 'max-memory' },
    code: null, signal: 'SIGKILL', failures: 0, spawnedAt: [], backoff: { minMs: 100, maxMs: 1000 },
  });
  assert.deepEqual(exit, { kind: 'planned', reason: 'recycled' });
});

test('decide: a replacement that fails to boot leaves the marked worker serving (capacity is never lowered)', () => {
  const p = { ...off, maxRequests: 10 };
  const marked = worker(1, { requests: 10, requestLimit: 10, recycling: 'max-requests' });
  const slots = new Map([
    [1, { backoffUntil: 12_000 }],
    [2, { backoffUntil: null }],
  ]);
  const d = decide(view([marked, worker(2)], p, { slots }));
  assert.deepEqual(d.actions, []);
  assert.equal(d.wakeAt, 12_000);
});

/**
 * A pool of N under recycling, stepped like master.ts does: every worker serves `rate` requests per tick, a spawn
 * becomes ready `bootTicks` later, a drain exits `drainTicks` later. At every tick: never fewer than N ready workers
 * serving (a marked worker still serves until its replacement is ready), never more than `surge` slots recycling.
 */
function simulate(opts: { n: number; surge: number; maxRequests: number; jitter: number; rate: number; bootTicks: number; drainTicks: number; ticks: number; seed: number }) {
  let seed = opts.seed;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const policy: RecyclePolicy = { ...off, maxRequests: opts.maxRequests, maxRequestsJitter: opts.jitter, surge: opts.surge };
  type Sim = { w: PoolWorker & { requests: number }; readyAt: number; exitAt: number };
  const sims: Sim[] = [];
  const slots = new Map<number, { backoffUntil: number | null }>();
  for (let id = 1; id <= opts.n; id++) slots.set(id, { backoffUntil: null });
  let pid = 1;
  const spawn = (id: number, t: number) =>
    sims.push({ w: { id, pid: pid++, generation: 1, state: 'starting', since: t, startedAt: t, killedFor: null, requests: 0, requestLimit: requestLimitFor(policy, random), memory: null, recycling: null }, readyAt: t + opts.bootTicks, exitAt: Infinity });
  for (let id = 1; id <= opts.n; id++) spawn(id, 0);
  for (const s of sims) s.w = { ...s.w, state: 'ready' };
  let recycled = 0;
  let minServing = Infinity;
  let maxRecycling = 0;
  for (let t = 1; t <= opts.ticks; t++) {
    for (const s of sims) {
      if (s.w.state === 'starting' && t >= s.readyAt) s.w = { ...s.w, state: 'ready', since: t };
      if (s.w.state === 'ready') s.w = { ...s.w, requests: s.w.requests + opts.rate };
    }
    for (let i = sims.length - 1; i >= 0; i--) {
      if (t >= sims[i]!.exitAt) {
        sims.splice(i, 1);
        recycled++;
      }
    }
    const v: PoolView = {
      now: t, phase: 'running', target: opts.n, generation: 1, reload: null, reloadSurge: 1,
      workers: sims.map((s) => s.w), slots, bootTimeoutMs: 1e9, gracefulTimeoutMs: 1e9, forceStop: false, recycle: policy,
    };
    const actions: PoolAction[] = decide(v).actions;
    for (const a of actions) {
      if (a.type === 'spawn') spawn(a.id, t);
      else if (a.type === 'recycle') {
        const s = sims.find((x) => x.w.pid === a.pid)!;
        s.w = { ...s.w, recycling: a.limit };
      } else if (a.type === 'drain') {
        const s = sims.find((x) => x.w.pid === a.pid)!;
        s.w = { ...s.w, state: 'draining', since: t };
        s.exitAt = t + opts.drainTicks;
      } else if (a.type !== 'settled') assert.fail(`unexpected action ${a.type}`);
    }
    const serving = sims.filter((s) => s.w.state === 'ready').length;
    minServing = Math.min(minServing, serving);
    maxRecycling = Math.max(maxRecycling, new Set(sims.filter((s) => s.w.recycling !== null).map((s) => s.w.id)).size);
  }
  return { recycled, minServing, maxRecycling };
}

test('simulation: recycling never leaves fewer than N workers serving, nor more than the surge recycling at once', () => {
  for (const surge of [1, 2, 4]) {
    for (const seed of [1, 2, 3]) {
      const r = simulate({ n: 4, surge, maxRequests: 200, jitter: 50, rate: 10, bootTicks: 5, drainTicks: 3, ticks: 600, seed });
      assert.ok(r.recycled >= 20, `surge ${surge} seed ${seed}: recycled ${r.recycled}`);
      assert.ok(r.minServing >= 4, `surge ${surge} seed ${seed}: ${r.minServing} serving at the worst tick`);
      assert.ok(r.maxRecycling <= surge, `surge ${surge} seed ${seed}: ${r.maxRecycling} slots recycling at once`);
    }
  }
});
