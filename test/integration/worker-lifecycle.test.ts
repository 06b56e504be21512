// The worker process's life as the master sees it over IPC: ready, stats, drain (in-flight requests finish, then
// exit 0), SIGTERM, the graceful deadline, master gone (exit 5), load failures (load-failed + exit 3), and an
// uncaught exception (drain, exit 1). Exit codes are the contract in src/worker/exit-codes.ts.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeRequest, nginxLikeParams } from '../../src/protocol/request-encoder.js';
import { EXIT_APP_LOAD_FAILED, EXIT_MASTER_GONE, EXIT_OK } from '../../src/worker/exit-codes.js';
import { APPS } from '../helpers/paths.js';
import { exchange, parseResponse, show } from '../helpers/scgi-raw.js';
import { call, startWorker, type WorkerUnderTest } from './worker-harness.js';

const PID_APP = join(APPS, 'pid.cjs');

function slowRequest(w: WorkerUnderTest, ms: number): ReturnType<typeof exchange> {
  return exchange(w.target, [encodeRequest(nginxLikeParams({ method: 'GET', uri: `/?ms=${ms}` }))], { timeoutMs: 15_000 });
}

/** Resolves once the worker has accepted the connection and the app holds the request (inflight ≥ n). */
async function waitInflight(w: WorkerUnderTest, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const last = [...w.messages].reverse().find((m) => m.type === 'stats');
    if (last !== undefined && last.type === 'stats' && last.inflight >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`inflight never reached ${n}; messages: ${JSON.stringify(w.messages)}`);
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('ready, then stats with cumulative requests, only when they change', async (t) => {
  const w = await startWorker(t, PID_APP, { statsIntervalMs: 100 });
  assert.deepEqual(w.messages[0], { type: 'ready' });
  const { res } = await call(w, 'GET', '/');
  assert.equal(res.body.toString(), `${w.pid}\n`);
  await call(w, 'GET', '/');
  const deadline = Date.now() + 3000;
  while (!w.messages.some((m) => m.type === 'stats' && m.requests === 2 && m.inflight === 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const stats = w.messages.filter((m) => m.type === 'stats');
  assert.ok(stats.some((m) => m.type === 'stats' && m.requests === 2 && m.inflight === 0), JSON.stringify(stats));
  // Unchanged counters are not repeated: a quiet 400 ms (4 stats intervals) adds no message. (An absence check
  // needs a window; it cannot fail by slowness, only by a message that should not exist.)
  const before = w.messages.length;
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(w.messages.length, before, JSON.stringify(w.messages.slice(before)));
});

for (const how of ['drain message', 'SIGTERM'] as const) {
  test(`${how}: stop accepting, finish the request in flight, exit 0`, async (t) => {
    const w = await startWorker(t, PID_APP);
    const inFlight = slowRequest(w, 600);
    await waitInflight(w, 1);
    if (how === 'drain message') w.child.send({ type: 'drain' });
    else w.child.kill('SIGTERM');
    const draining = await w.waitFor('draining');
    assert.equal(draining.inflight, 1);
    const o = await inFlight;
    const res = parseResponse(o.data);
    assert.equal(res.status, 200, show(o));
    assert.equal(res.body.toString(), `${w.pid}\n`);
    const exit = await w.waitExit();
    assert.equal(exit.code, EXIT_OK);
    // The worker held the last copy of the listening socket (the test closed its own): now nobody listens.
    assert.equal(await refused(w.target.kind === 'tcp' ? w.target.port : 0), true);
  });
}

test('one worker holds 200 slow requests at once and answers them all; the counters add up', async (t) => {
  const w = await startWorker(t, PID_APP, { statsIntervalMs: 100 });
  const outcomes = await Promise.all(Array.from({ length: 200 }, () => slowRequest(w, 300)));
  for (const o of outcomes) assert.equal(parseResponse(o.data).body.toString(), `${w.pid}\n`, show(o));
  const deadline = Date.now() + 10_000;
  while (!w.messages.some((m) => m.type === 'stats' && m.requests === 200 && m.inflight === 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(w.messages.some((m) => m.type === 'stats' && m.requests === 200 && m.inflight === 0), JSON.stringify(w.messages.slice(-3)));
});

test('SIGINT and SIGHUP are ignored (the master coordinates)', async (t) => {
  const w = await startWorker(t, PID_APP);
  w.child.kill('SIGINT');
  w.child.kill('SIGHUP');
  // Both are handled before the next connection is; without the handlers either would have killed the worker.
  assert.equal((await call(w, 'GET', '/')).res.status, 200);
  assert.equal((await call(w, 'GET', '/')).res.status, 200);
  assert.equal(w.child.exitCode, null);
  assert.ok(!w.messages.some((m) => m.type === 'draining'));
});

test('the graceful deadline: what is still running is closed, then the worker exits 0', async (t) => {
  const w = await startWorker(t, PID_APP, { gracefulTimeoutMs: 300 });
  const inFlight = slowRequest(w, 10_000);
  await waitInflight(w, 1);
  const started = Date.now();
  w.child.send({ type: 'drain' });
  const exit = await w.waitExit(10_000);
  assert.equal(exit.code, EXIT_OK);
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`); // 300 ms + 1 s fallback + slack
  const o = await inFlight;
  assert.notEqual(o.ending, 'timeout', show(o));
  assert.equal(parseResponse(o.data).status, 503, show(o)); // nothing was sent yet: a 503, not an empty close
  await w.waitLog(/graceful timeout \(300 ms\) passed/);
});

test('master gone (IPC closed): the worker finishes and exits 5', async (t) => {
  const w = await startWorker(t, PID_APP);
  const inFlight = slowRequest(w, 300);
  await waitInflight(w, 1);
  w.child.disconnect();
  const o = await inFlight;
  assert.equal(parseResponse(o.data).status, 200, show(o));
  const exit = await w.waitExit();
  assert.equal(exit.code, EXIT_MASTER_GONE);
});

test("master gone without a 'disconnect' event: the periodic check notices the closed channel and exits 5", async (t) => {
  const w = await startWorker(t, join(APPS, 'no-disconnect-event.cjs'), { statsIntervalMs: 100 });
  const started = Date.now();
  w.child.disconnect();
  const exit = await w.waitExit(5000);
  assert.equal(exit.code, EXIT_MASTER_GONE);
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
});

const loadFailures: Array<[file: string, code: string, text: RegExp]> = [
  ['throws-at-load.cjs', 'ERR_APP_LOAD_FAILED', /cannot connect to the database at load time/],
  ['bad-export.cjs', 'ERR_APP_BAD_EXPORT', /an object with keys port, name/],
  ['no-such-app.cjs', 'ERR_APP_NOT_FOUND', /does not exist/],
];

for (const [file, code, text] of loadFailures) {
  test(`${file}: load-failed (${code}) naming the file, then exit 3`, async (t) => {
    const path = join(APPS, file);
    const w = await startWorker(t, path, { ready: false });
    const failed = await w.waitFor('load-failed');
    assert.equal(failed.error.code, code);
    assert.ok(failed.error.message.includes(path), failed.error.message);
    assert.match(failed.error.message, text);
    if (code === 'ERR_APP_LOAD_FAILED') assert.match(failed.error.stack ?? '', /throws-at-load\.cjs:\d+/);
    const exit = await w.waitExit();
    assert.equal(exit.code, EXIT_APP_LOAD_FAILED);
    assert.ok(!w.messages.some((m) => m.type === 'ready'));
  });
}

test('an unhandled rejection is logged and the worker keeps serving', async (t) => {
  const w = await startWorker(t, join(APPS, 'throws-in-handler.cjs'));
  assert.equal((await call(w, 'GET', '/unhandled')).res.body.toString(), 'ok\n');
  await w.waitLog(/unhandled promise rejection in the app/);
  assert.match(w.stderr(), /fixture: nobody handles this rejection/);
  assert.equal((await call(w, 'GET', '/fine')).res.body.toString(), 'ok\n');
  assert.equal(w.child.exitCode, null);
});

test('an uncaught exception: logged with its stack, in-flight work finishes, exit 1 (the master replaces it)', async (t) => {
  const w = await startWorker(t, join(APPS, 'throws-in-handler.cjs'));
  const { res } = await call(w, 'GET', '/uncaught');
  assert.equal(res.body.toString(), 'scheduled\n');
  const exit = await w.waitExit();
  assert.equal(exit.code, 1);
  assert.match(w.stderr(), /uncaught exception in the app/);
  assert.match(w.stderr(), /fixture: uncaught exception from a timer\n\s+at /);
});
