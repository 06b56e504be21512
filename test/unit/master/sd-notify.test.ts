// SdNotifier (master/sd-notify.ts): milestones in, sd_notify lines out, with a fake sender and no processes. The
// cases the integration test cannot stage cheaply: refused and failed reloads, a reload before READY, the watchdog
// going quiet with no ready worker, and a missing addon (one warning, no notifier).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSdNotifier, SdNotifier } from '../../../src/master/sd-notify.js';
import type { MasterMilestone } from '../../../src/master/master.js';

const base: MasterMilestone = { phase: 'starting', ready: 0, target: 2, generation: 1, reloading: null, reloadRequests: 0, restarts: 0 };
const log = { warnings: [] as string[], warn(m: string) { this.warnings.push(m); }, debug() {} };

function notifier(watchdogMs: number | null = null) {
  const sent: string[] = [];
  const n = new SdNotifier({ send: (m) => sent.push(m), log, watchdogMs, monotonicUsec: () => 42n });
  return { n, sent, kinds: () => sent.flatMap((m) => m.split('\n')).filter((l) => !l.startsWith('STATUS=')) };
}

test('a reload refused before READY sends nothing; READY only in running', () => {
  const { n, kinds } = notifier();
  n.observe({ ...base, ready: 1 });
  n.observe({ ...base, ready: 1, reloadRequests: 1 }); // refused: still starting
  assert.deepEqual(kinds(), []);
  n.observe({ ...base, phase: 'running', ready: 2, reloadRequests: 1 });
  assert.deepEqual(kinds(), ['READY=1']);
});

test('refused and failed reloads still get RELOADING=1 + MONOTONIC_USEC, then READY=1', () => {
  const { n, kinds, sent } = notifier();
  const running = { ...base, phase: 'running' as const, ready: 2 };
  n.observe(running);
  n.observe({ ...running, reloadRequests: 1 }); // refused at once (e.g. the app dir is gone: nothing started)
  n.observe({ ...running, reloadRequests: 2, reloading: 2 }); // started
  n.observe({ ...running, reloadRequests: 3, reloading: 2 }); // a second request while it runs: refused, no pair
  n.observe({ ...running, reloadRequests: 3, reloading: null }); // failed: generation 1 keeps serving
  assert.deepEqual(kinds(), ['READY=1', 'RELOADING=1', 'MONOTONIC_USEC=42', 'READY=1', 'RELOADING=1', 'MONOTONIC_USEC=42', 'READY=1']);
  assert.ok(sent.some((m) => m.includes('STATUS=2/2 workers ready, generation 1, reloading to generation 2')));
  n.observe({ ...running, phase: 'stopping', ready: 0 });
  n.observe({ ...running, phase: 'stopping', ready: 0 });
  assert.deepEqual(kinds().slice(-1), ['STOPPING=1']);
});

test('WATCHDOG=1 only while at least one worker is ready', async (t) => {
  const { n, sent } = notifier(20);
  t.after(() => n.close());
  n.observe({ ...base, phase: 'running', ready: 2 });
  await new Promise((r) => setTimeout(r, 110));
  const healthy = sent.filter((m) => m === 'WATCHDOG=1').length;
  assert.ok(healthy >= 3, `${healthy} pings in 110 ms at 20 ms`);
  n.observe({ ...base, phase: 'running', ready: 0, restarts: 2 });
  const at = sent.length;
  await new Promise((r) => setTimeout(r, 110));
  assert.deepEqual(sent.slice(at).filter((m) => m === 'WATCHDOG=1'), []);
});

test('NOTIFY_SOCKET set and the addon cannot load: no notifier and one warning; unset: nothing loaded at all', () => {
  log.warnings.length = 0;
  let loads = 0;
  const load = () => (loads++, { error: 'cannot open shared object file' });
  assert.equal(createSdNotifier({ env: {}, pid: 1, log, load }), null);
  assert.equal(loads, 0);
  assert.equal(createSdNotifier({ env: { NOTIFY_SOCKET: '/run/x' }, pid: 1, log, load }), null);
  assert.equal(log.warnings.length, 1);
  assert.match(log.warnings[0]!, /NOTIFY_SOCKET is set but sd_notify is unavailable/);
});
