// WorkerHandle's state machine: every legal edge works, every illegal one throws ERR_INTERNAL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerHandle, type WorkerState } from '../../../src/master/worker-handle.js';
import { SupervisorError } from '../../../src/errors.js';
import { FakeWorker } from './fakes.js';

const OPTIONS = {
  app: '/srv/app.js',
  workerId: 1,
  generation: 1,
  limits: { maxHeaderBytes: 1, maxHeaderCount: 1, maxBodyBytes: 1, strict: false },
  timeouts: { headerTimeoutMs: 1, bodyIdleTimeoutMs: 1, sendIdleTimeoutMs: 1, drainTimeoutMs: 1, drainMaxBytes: 1, requestTimeoutMs: 0 },
  gracefulTimeoutMs: 1,
  statsIntervalMs: 1,
  logLevel: 'info',
  logFormat: 'text' as const,
};

function handleIn(path: WorkerState[]): WorkerHandle {
  const h = new WorkerHandle({ id: 3, generation: 1, process: new FakeWorker(812, OPTIONS), now: 0, restarts: 0 });
  path.forEach((state, i) => h.transition(state, i + 1));
  return h;
}

const LEGAL: WorkerState[][] = [
  ['ready', 'draining', 'exited'],
  ['ready', 'exited'],
  ['draining', 'exited'],
  ['exited'],
];

const ILLEGAL: [WorkerState[], WorkerState][] = [
  [[], 'starting'],
  [['ready'], 'starting'],
  [['ready'], 'ready'],
  [['ready', 'draining'], 'ready'],
  [['ready', 'draining'], 'starting'],
  [['exited'], 'ready'],
  [['exited'], 'draining'],
  [['exited'], 'exited'],
];

test('legal transitions move the state and restart the deadline clock (since)', () => {
  for (const path of LEGAL) {
    const h = handleIn(path);
    assert.equal(h.state, path[path.length - 1]);
    assert.equal(h.since, path.length);
  }
  assert.equal(handleIn([]).label, 'worker 3 (pid 812)');
});

test('illegal transitions throw an internal error and leave the state alone', () => {
  for (const [path, to] of ILLEGAL) {
    const h = handleIn(path);
    const before = h.state;
    assert.throws(
      () => h.transition(to, 99),
      (err: unknown) => err instanceof SupervisorError && err.code === 'ERR_INTERNAL',
      `${[...path].join('→') || 'starting'} → ${to}`,
    );
    assert.equal(h.state, before);
  }
});
