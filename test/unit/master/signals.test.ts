// signals.ts: each OS signal only enqueues its event (HUP reload, TERM/INT stop, TTIN/TTOU ±1); removal works.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installSignalHandlers, type SignalEvent } from '../../../src/master/signals.js';

test('signals map to queue events and nothing else; the remover uninstalls them', () => {
  const events: SignalEvent[] = [];
  const before = process.listenerCount('SIGHUP');
  const remove = installSignalHandlers((e) => events.push(e));
  try {
    // process.emit runs the handlers without delivering a real signal to the test runner.
    for (const s of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGTTIN', 'SIGTTOU'] as const) process.emit(s, s);
  } finally {
    remove();
  }
  assert.deepEqual(events.map((e) => e.type), ['reload', 'stop', 'stop', 'ttin', 'ttou']);
  assert.equal(process.listenerCount('SIGHUP'), before);
});
