// Stopping (issue 3 "Lifecycle"): SIGTERM with a slow request in flight lets it finish with 200, the master exits 0
// with no process of its tree left and its unix socket removed; past the graceful timeout what is left is killed;
// and when the master itself is SIGKILLed its workers leave by themselves.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  exchange,
  parseResponse,
  request,
  serve,
  show,
  exitOf,
  waitForPidsGone,
  type Served,
} from '../helpers/scgi-raw.js';
import { waitFor } from '../helpers/frontends/process-utils.js';

/** Waits until life-echo.cjs recorded `start` for `token` in the events file (the request is inside the app). */
async function waitForAppStart(events: string, token: string): Promise<void> {
  await waitFor(`the app to start request ${token}`, async () => {
    const text = await readFile(events, 'utf8').catch(() => '');
    return text.includes(`"token":"${token}","event":"start"`);
  }, { timeoutMs: 5000, intervalMs: 20 });
}

describe('stopping', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups) await c();
  });
  async function start(kind: 'tcp' | 'unix', args: string[] = []): Promise<{ s: Served; events: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'scgi-life-stop-'));
    const events = join(dir, 'events.jsonl');
    const s = await serve({ app: 'life-echo.cjs', kind, args, env: { LIFE_EVENTS: events } });
    cleanups.push(() => s.cleanup(), () => rm(dir, { recursive: true, force: true }));
    return { s, events };
  }

  test('SIGTERM with a slow request in flight: it completes with 200, exit 0, no process left, socket removed', async () => {
    const { s, events } = await start('unix');
    assert.equal(s.target.kind, 'unix');
    const socketPath = s.target.kind === 'unix' ? s.target.path : '';
    assert.ok(existsSync(socketPath));
    const slow = exchange(s.target, [request('GET', '/slow?ms=1500&events=slow')], { timeoutMs: 8000 });
    await waitForAppStart(events, 'slow');
    const termAt = Date.now();
    process.kill(s.sup.pid, 'SIGTERM');
    const o = await slow;
    assert.equal(o.ending, 'fin', show(o));
    assert.equal(parseResponse(o.data).status, 200, show(o));
    const exit = await exitOf(s.sup, 10_000);
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, s.sup.logs());
    assert.ok(Date.now() - termAt < 6000, `stop took ${Date.now() - termAt}ms for a 1.5 s request`);
    assert.match(s.sup.logs(), /stopping: draining 2 workers \(graceful timeout 30s\)/);
    assert.match(s.sup.logs(), /\bstopped\b/);
    assert.deepEqual(await waitForPidsGone(s.initialPids, 3000), [], 'workers left behind after the master exited');
    assert.equal(existsSync(socketPath), false, 'the unix socket file was not removed');
  });

  test('SIGTERM past --graceful-timeout: what is left is killed, exit 0, no process left', async () => {
    const { s, events } = await start('tcp', ['--graceful-timeout', '1']);
    const stuck = exchange(s.target, [request('GET', '/stuck?ms=20000&events=stuck')], { timeoutMs: 10_000 });
    await waitForAppStart(events, 'stuck');
    const termAt = Date.now();
    process.kill(s.sup.pid, 'SIGTERM');
    const exit = await exitOf(s.sup, 8000);
    const tookMs = Date.now() - termAt;
    assert.equal(exit.code, 0, s.sup.logs());
    assert.ok(tookMs >= 900 && tookMs < 4000, `stopped ${tookMs}ms after SIGTERM with a 1 s graceful timeout`);
    assert.match(s.sup.logs(), /stopping: draining 2 workers \(graceful timeout 1s\)/);
    assert.deepEqual(await waitForPidsGone(s.initialPids, 3000), []);
    const o = await stuck;
    assert.notEqual(o.ending, 'timeout', `the in-flight connection was left hanging: ${show(o)}`);
  });

  test('the master SIGKILLed: its workers exit by themselves', async () => {
    const { s } = await start('tcp');
    assert.equal(s.initialPids.length, 2);
    process.kill(s.sup.pid, 'SIGKILL');
    await exitOf(s.sup, 3000);
    assert.deepEqual(await waitForPidsGone(s.initialPids, 5000), [], 'workers outlived their master');
  });
});
