// crash-log.ts: recentRestarts over the last 60 s, and a crash loop told once a minute per slot, not once per crash.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CRASH_WINDOW_MS, noteCrash, recentCrashes, summaryDueAt, summaryWritten, type CrashHistory } from '../../../src/master/crash-log.js';

const fresh = (): CrashHistory => ({ crashedAt: [], crashLoggedAt: null, crashesUnlogged: 0 });

test('the first crash is logged as usual; the rest of the minute is quiet, then one summary line is due', () => {
  const h = fresh();
  assert.equal(noteCrash(h, 1000), 'each');
  const told: string[] = [];
  for (let t = 1500; t < 1000 + CRASH_WINDOW_MS; t += 500) told.push(noteCrash(h, t));
  assert.ok(told.every((k) => k === 'quiet'));
  assert.equal(summaryDueAt(h), 1000 + CRASH_WINDOW_MS);
  assert.equal(recentCrashes(h, 1000 + CRASH_WINDOW_MS - 1), 1 + told.length);
  summaryWritten(h, 1000 + CRASH_WINDOW_MS);
  assert.equal(summaryDueAt(h), null);
  // Still crashing a minute after the summary: the next crash is told with its count, not as a single crash.
  assert.equal(noteCrash(h, 1000 + 2 * CRASH_WINDOW_MS - 1), 'quiet');
  assert.equal(noteCrash(h, 1000 + 2 * CRASH_WINDOW_MS + 1), 'summary');
});

test('recentRestarts forgets crashes older than 60 s; a crash after a quiet minute is logged as usual again', () => {
  const h = fresh();
  noteCrash(h, 0);
  noteCrash(h, 10);
  assert.equal(recentCrashes(h, 100), 2);
  assert.equal(recentCrashes(h, CRASH_WINDOW_MS + 5), 1);
  assert.equal(recentCrashes(h, CRASH_WINDOW_MS + 50), 0);
  summaryWritten(h, CRASH_WINDOW_MS);
  assert.equal(noteCrash(h, 3 * CRASH_WINDOW_MS), 'each');
  assert.equal(h.crashedAt.length, 1);
});
