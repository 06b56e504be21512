// Recycling through the Master with fakes of our interfaces: limit-reached messages and memory samples in; spawns,
// drains, kills, log lines, stats rows and totals out. No processes (test/frontends/recycle.test.ts runs the real thing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Master } from '../../../src/master/master.js';
import { EXIT_OK } from '../../../src/worker/exit-codes.js';
import type { Config, RecyclePolicy } from '../../../src/config/config.js';
import { FakeClock, FakeListener, FakeLog, FakeSpawner, testConfig } from './fakes.js';

const MiB = 1024 * 1024;

async function started(recycle: Partial<RecyclePolicy>, overrides: Partial<Config> = {}) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const log = new FakeLog();
  const memory = new Map<number, number>();
  const base = testConfig();
  const master = new Master({
    config: testConfig({ ...overrides, recycle: { ...base.recycle, ...recycle } }),
    listener: new FakeListener(),
    spawnWorker: spawner.spawn,
    log,
    clock,
    sampleUsage: async (pids) => new Map(pids.map((pid) => [pid, { cpu: 1, memory: memory.get(pid) ?? 50 * MiB, cpuSeconds: 1 }])),
    random: () => 0.5,
  });
  const tick = (ms = 0) => clock.advance(ms);
  const ready = master.start();
  tick();
  for (const w of spawner.alive) w.ready();
  tick();
  await ready;
  return { clock, spawner, log, master, tick, memory };
}

test('max-requests: the worker says it reached its limit; a replacement starts, is ready, then the old one drains', async () => {
  const { spawner, master, tick, log } = await started({ maxRequests: 100, maxRequestsJitter: 10 });
  const [one, two] = spawner.alive;
  assert.equal(one!.options.maxRequests, 105, 'max-requests + the jitter drawn for this worker (random 0.5 of 0..10)');
  one!.emit({ type: 'limit-reached', limit: 'max-requests', requests: 105 });
  tick();
  assert.equal(spawner.all.length, 3, 'the replacement starts');
  const replacement = spawner.all[2]!;
  assert.equal(replacement.options.workerId, 1);
  assert.deepEqual(one!.sent, [], 'the old one serves on while the replacement loads');
  assert.ok(log.has('reached max-requests (105 requests, limit 105)'));
  replacement.ready();
  tick();
  assert.deepEqual(one!.sent, [{ type: 'drain' }]);
  assert.deepEqual(two!.sent, []);
  one!.emit({ type: 'stats', requests: 107, inflight: 0, timeouts: 0 });
  one!.exit(EXIT_OK);
  tick();
  const s = await master.stats();
  const row = s.workers.find((w) => w.id === 1)!;
  assert.deepEqual([row.pid, row.recycles, row.restarts, row.lastExit], [replacement.pid, 1, 0, { code: 0, signal: null, reason: 'recycled', limit: 'max-requests' }]);
  assert.deepEqual(s.master.totals, { requests: 107, timeouts: 0, recycles: 1, restarts: 0 });
  assert.match(await master.metrics(), /scgi_supervise_worker_recycles_total\{limit="max-requests"\} 1/);
  assert.ok(log.has(`worker 1 (pid ${one!.pid}) exited with code 0 (recycled: max-requests)`));
});

test('max-memory: over the limit at a sample → recycled; above twice it → killed at that sample, still a recycle', async () => {
  const { spawner, master, tick, memory, log } = await started({ maxMemoryBytes: 100 * MiB });
  const [one, two] = spawner.alive;
  memory.set(one!.pid, 120 * MiB);
  await master.sampleNow();
  tick();
  assert.equal(spawner.all.length, 3, 'a replacement for the worker over the limit');
  assert.ok(log.has('reached max-memory (120 MiB resident, limit 100 MiB)'));
  memory.set(two!.pid, 201 * MiB);
  await master.sampleNow();
  tick();
  assert.deepEqual(two!.signals, ['SIGKILL'], 'twice the limit: no waiting for a replacement');
  assert.ok(log.has('over twice max-memory (100 MiB): killing it now'));
  two!.exit(null, 'SIGKILL');
  tick();
  const s = await master.stats();
  const slot2 = s.workers.filter((w) => w.id === 2);
  assert.equal(slot2.length, 1, 'slot 2 respawned at once (a planned exit: no backoff)');
  assert.deepEqual([slot2[0]!.recycles, slot2[0]!.restarts, slot2[0]!.lastExit?.reason, slot2[0]!.lastExit?.limit], [1, 0, 'recycled', 'max-memory']);
  assert.deepEqual(one!.signals, [], 'slot 1 waits for its replacement (surge 1 is per recycle, the kill is not one)');
});

test('max-lifetime: a worker older than the limit is recycled when its time comes, one slot at a time', async () => {
  const { spawner, tick } = await started({ maxLifetimeMs: 60_000 });
  tick(59_000);
  assert.equal(spawner.all.length, 2);
  tick(1_000);
  assert.equal(spawner.all.length, 3, 'one replacement (surge 1), not two');
  spawner.all[2]!.ready();
  tick();
  const drained = spawner.all.filter((w) => w.sent.some((m) => m.type === 'drain'));
  assert.equal(drained.length, 1);
  drained[0]!.exit(EXIT_OK);
  tick();
  assert.equal(spawner.all.length, 4, 'then the next slot');
});

test('a reload while a slot recycles: the reload replaces both; no extra worker, no recycle counted twice', async () => {
  const { spawner, master, tick } = await started({ maxRequests: 100 });
  const [one] = spawner.alive;
  one!.emit({ type: 'limit-reached', limit: 'max-requests', requests: 100 });
  tick();
  const replacement = spawner.all[2]!;
  assert.equal(replacement.options.generation, 1);
  const reloaded = master.reload();
  tick();
  // The canary of generation 2 starts; the old replacement (generation 1) is no longer wanted once it is up.
  const gen2 = () => spawner.alive.filter((w) => w.options.generation === 2);
  for (let round = 0; round < 6 && gen2().some((w) => w.sent.length === 0); round++) {
    for (const w of spawner.alive) if (w.options.generation === 2 || w === replacement) w.ready();
    tick();
    for (const w of spawner.alive) if (w.sent.some((m) => m.type === 'drain')) w.exit(EXIT_OK);
    tick();
  }
  const result = await reloaded;
  assert.equal(result.generation, 2);
  const s = await master.stats();
  assert.deepEqual(s.workers.map((w) => [w.id, w.generation, w.state]), [[1, 2, 'ready'], [2, 2, 'ready']]);
  assert.ok(s.master.totals.recycles <= 1, `recycles ${s.master.totals.recycles}`);
  assert.equal(s.master.totals.restarts, 0);
});
