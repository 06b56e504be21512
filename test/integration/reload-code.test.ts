// `reload` against the real supervisor (issue 4 "Reload"): new code is picked up; a canary that throws at load makes
// `reload` exit 1 within the boot timeout while the old generation keeps answering 200; a reload during a reload
// exits EXIT_BUSY (4); a canary that never gets ready is given up at --boot-timeout; SIGHUP reloads as the verb does. The app file is a copy in a temp dir, rewritten between reloads.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT_BUSY } from '../../src/cli/format.js';
import { type Supervised, get, pollFor, startVersioned } from './control-helpers.js';

/** `reloaded: generation G, N workers in X.Xs` (cli/commands/reload.ts; this test relies on the phrasing). */
const RELOADED = /^reloaded: generation (\d+), (\d+) workers in (\d+\.\d)s\n$/;

async function versionsSeen(s: Supervised, n: number): Promise<Set<string>> {
  const answers = await Promise.all(Array.from({ length: n }, () => get(s.target, '/')));
  const seen = new Set<string>();
  for (const a of answers) {
    assert.equal(a.status, 200, a.body);
    seen.add(a.body.split(' ')[0]!);
  }
  return seen;
}

describe('reload', { timeout: 120_000 }, () => {
  let s: Supervised;
  before(async () => {
    s = await startVersioned({ workers: 2, args: ['--boot-timeout', '5'] });
  });
  after(async () => {
    await s?.cleanup();
  });

  test('reload picks up changed app code: every worker is new and answers with the new version', async () => {
    assert.deepEqual(await versionsSeen(s, 10), new Set(['v1']));
    const before = await s.stats();
    await s.setVersion('v2');
    // The old generation keeps the code it loaded until it is replaced.
    assert.deepEqual(await versionsSeen(s, 10), new Set(['v1']));
    const r = await s.verb(['reload'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    const m = RELOADED.exec(r.stdout);
    assert.ok(m, `reload printed ${JSON.stringify(r.stdout)}`);
    assert.ok(Number(m[1]) > before.master.generation, `new generation ${m[1]} after ${before.master.generation}`);
    assert.equal(Number(m[2]), 2);
    assert.deepEqual(await versionsSeen(s, 20), new Set(['v2']));
    const after = await s.stats();
    assert.equal(after.master.generation, Number(m[1]), 'stats shows the generation reload printed');
    assert.equal(after.workers.length, 2);
    for (const w of after.workers) {
      assert.equal(w.state, 'ready');
      assert.equal(w.generation, after.master.generation);
      assert.ok(!before.workers.some((o) => o.pid === w.pid), `worker ${w.pid} is a new process`);
    }
  });

  test('a canary that throws at load: reload exits 1 with the app error, the old generation keeps serving', async () => {
    const before = await s.stats();
    await s.useFixture('ctl-load-error.cjs');
    // Requests keep flowing during the failed reload; every one must be answered by the old code.
    let stop = false;
    const statuses: string[] = [];
    const load = (async () => {
      while (!stop) {
        const a = await get(s.target, '/');
        statuses.push(a.status === 200 ? a.body.split(' ')[0]! : `${a.status} ${a.body}`);
      }
    })();
    const r = await s.verb(['reload'], 30_000);
    stop = true;
    await load;
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /ctl-load-error: deliberate failure while loading the new code/);
    assert.match(r.stderr, /^scgi-supervise: ERR_RELOAD_FAILED: /);
    assert.equal(r.stdout, '');
    assert.ok(r.ms < 5000 + 3000, `reload failed within the 5 s boot timeout (+margin): ${r.ms}ms`);
    assert.ok(statuses.length > 0);
    assert.deepEqual(new Set(statuses), new Set(['v2']), 'only 200 from the old code during the failed reload');
    assert.deepEqual(await versionsSeen(s, 20), new Set(['v2']));
    // The aborted canary may still be on its way out for a moment; then only the old workers are left, ready.
    const expected = JSON.stringify(before.workers.map((w) => [w.pid, 'ready', before.master.generation]).sort());
    const after = await pollFor('only the old generation left, ready', 5000, async () => {
      const now = await s.stats();
      const live = now.workers.map((w) => [w.pid, w.state, w.generation]).sort();
      return JSON.stringify(live) === expected ? now : undefined;
    }, 100).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify((await s.stats()).workers)}`);
    });
    assert.equal(after.master.generation, before.master.generation, 'the old generation is still the current one');
  });

  test('a canary that never becomes ready: reload exits 1 after the boot timeout (5 s), old workers untouched', async () => {
    const before = await s.stats();
    await s.useFixture('ctl-never-ready.cjs');
    const r = await s.verb(['reload'], 30_000);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^scgi-supervise: ERR_RELOAD_FAILED: /);
    assert.ok(r.ms >= 4000 && r.ms < 5000 + 4000, `gave up at the 5 s boot timeout: ${r.ms}ms`);
    assert.deepEqual(await versionsSeen(s, 10), new Set(['v2']));
    const after = await s.stats();
    assert.equal(after.master.generation, before.master.generation);
    for (const w of before.workers) {
      const now = after.workers.find((x) => x.pid === w.pid);
      assert.equal(now?.state, 'ready', `old worker ${w.pid} still ready`);
    }
  });

  test('a reload while a reload runs is refused with EXIT_BUSY; the first one completes', async () => {
    await s.useFixture('ctl-slow-load.cjs'); // ready after ~2 s: the first reload is still running below
    const generation = (await s.stats()).master.generation;
    const first = s.verb(['reload'], 60_000);
    const during = await pollFor('the first reload to have started a new worker', 10_000, async () => {
      const snap = await s.stats();
      return snap.workers.some((w) => w.generation > generation) ? snap : undefined;
    }, 50);
    // Mid-reload, stats lists both generations: the canary loading (starting), the two old workers still ready.
    // (A failed reload uses up its generation number, so the new one is only known to be higher.)
    const fresh = Math.max(...during.workers.map((w) => w.generation));
    assert.deepEqual(
      during.workers.map((w) => `${w.generation === fresh ? 'new' : w.generation}:${w.state}`).sort(),
      [`${generation}:ready`, `${generation}:ready`, 'new:starting'],
    );
    const second = await s.verb(['reload'], 30_000);
    assert.equal(second.code, EXIT_BUSY, `${second.stdout}\n${second.stderr}`);
    assert.match(second.stderr, /^scgi-supervise: ERR_RELOAD_IN_PROGRESS: /);
    const r = await first;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, RELOADED);
    assert.deepEqual(await versionsSeen(s, 10), new Set(['slow']));
  });

  test('SIGHUP reloads: the new code answers and a new generation is ready', async () => {
    await s.setVersion('v5');
    const generation = (await s.stats()).master.generation;
    process.kill(s.pid, 'SIGHUP');
    const snap = await pollFor('the HUP reload to finish', 20_000, async () => {
      const now = await s.stats();
      const g = now.master.generation;
      const done = g > generation && now.workers.length === 2 && now.workers.every((w) => w.state === 'ready' && w.generation === g);
      return done ? now : undefined;
    }, 100);
    assert.equal(snap.workers.length, 2);
    assert.deepEqual(await versionsSeen(s, 10), new Set(['v5']));
  });
});
