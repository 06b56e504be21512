// --request-timeout through a real nginx (docs/protocol.md case 38): a handler that never answers gets a 504 from
// the worker within the timeout plus one second (nginx's own scgi_read_timeout is 60 s); a response cut after its
// head leaves the client with a short, broken response, never a hang; a slow request inside the limit completes.
// On both I/O paths (libuv handles, and net.Socket with SCGI_SUPERVISE_NET_SOCKETS=1), for a (req, res) app (it
// sees 'close' with writableEnded false and req.destroyed) and a fetch() app (its request.signal aborts). The
// worker keeps serving, logs each timeout at warn, and counts them in `stats --json` (timeouts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSupervisor } from '../helpers/supervisor.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { pollFor, runCli } from '../integration/control-helpers.js';
import type { StatsSnapshot } from '../../src/stats-contract.js';

const TIMEOUT_S = 1;
/** The bound the issue sets: the 504 arrives within the timeout plus one second. */
const BOUND_MS = (TIMEOUT_S + 1) * 1000;

interface Outcome {
  status: number | null;
  bytes: number;
  /** 'end': the body ended normally; 'aborted': the connection broke mid-response; 'error': no response at all. */
  how: 'end' | 'aborted' | 'error';
  ms: number;
}

/** A GET that reports how the response ended instead of rejecting; a client-side bound turns a hang into a failure. */
function fetchOutcome(port: number, path: string, hangMs = 5000): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let status: number | null = null;
    let bytes = 0;
    const done = (how: Outcome['how']) => {
      clearTimeout(timer);
      resolve({ status, bytes, how, ms: Date.now() - started });
    };
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      status = res.statusCode ?? null;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => done(res.complete ? 'end' : 'aborted'));
      res.on('aborted', () => done('aborted'));
      res.on('error', () => done('aborted'));
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`GET ${path}: the client hung for ${hangMs} ms (status ${status}, ${bytes} bytes)`));
    }, hangMs);
    req.on('error', () => done(status === null ? 'error' : 'aborted'));
    req.end();
  });
}

async function appLog(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const path of ['handles', 'net-socket'] as const) {
  test(`request-timeout through nginx, (req, res) app, ${path} path: 504, cut, slow-but-inside completes`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'scgi-rt-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const log = join(dir, 'app.log');
    const env: NodeJS.ProcessEnv = { TIMEOUT_LOG: log };
    if (path === 'net-socket') env.SCGI_SUPERVISE_NET_SOCKETS = '1';
    const sv = await startSupervisor({ app: 'timeout-node.cjs', workers: 1, args: ['--request-timeout', String(TIMEOUT_S)], env, t });
    assert.ok('port' in sv.connect);
    const fe = await startNginx({ backends: { tcp: sv.connect }, t });
    const port = fe.ports.tcp!;
    const worker = sv.workerPids();

    const hang = await fetchOutcome(port, '/hang');
    assert.equal(hang.status, 504, `${JSON.stringify(hang)}\n${fe.errorLog()}\n${sv.logs()}`);
    assert.equal(hang.how, 'end');
    assert.ok(hang.ms < BOUND_MS, `504 after ${hang.ms} ms, bound ${BOUND_MS} ms`);

    const half = await fetchOutcome(port, '/half');
    assert.equal(half.status, 200, JSON.stringify(half));
    // Declared 20000 bytes, sent 10000: the client must see a broken response, not a complete one, and soon.
    assert.equal(half.how, 'aborted', `${JSON.stringify(half)}\n${fe.errorLog()}`);
    assert.ok(half.bytes < 20000, JSON.stringify(half));
    assert.ok(half.ms < BOUND_MS, `cut after ${half.ms} ms, bound ${BOUND_MS} ms`);
    // nginx saw the upstream break: a reset (TCP) or an early close, logged as such.
    assert.match(fe.errorLog(), /prematurely closed|reset by peer/, fe.errorLog());

    const slow = await httpRequest({ port, path: '/slow?ms=500', timeoutMs: 5000 });
    assert.equal(slow.status, 200);
    assert.equal(slow.body.toString(), 'slow 500\n');

    // The app saw both cut requests end as node:http's own timeouts end one.
    const seen = await pollFor('the app to record both cut requests', 5000, async () => {
      const lines = await appLog(log);
      return lines.length >= 2 ? lines : undefined;
    });
    assert.deepEqual(
      seen.map((l) => [l.path, l.writableEnded, l.reqDestroyed]).sort(),
      [['/half', false, true], ['/hang', false, true]],
    );
    // Logged at warn with method, uri and age (text format: key=value after the message).
    assert.match(sv.logs(), /WARN .*request timed out after 1 s \(request-timeout\); answered 504 method=GET uri=\/hang age=1(\.\d)?/);
    assert.match(sv.logs(), /WARN .*request timed out after 1 s \(request-timeout\); connection reset method=GET uri=\/half age=1(\.\d)?/);
    // Same worker throughout (it kept serving), and the count reaches stats.
    assert.deepEqual(sv.workerPids(), worker);
    // The three requests above, plus the front end's own start-up probe if it reached the worker (it does when nginx
    // is slow to come up): wait for the count, do not read it between two of the worker's reports.
    const stats = await pollFor('stats to count 2 timeouts and the 3 requests', 8000, async () => {
      const r = await runCli(['stats', '--json', '-l', sv.address], 10_000);
      const s = JSON.parse(r.stdout) as StatsSnapshot;
      return s.workers[0]?.timeouts === 2 && s.workers[0].requests >= 3 ? s : undefined;
    }, 250);
    assert.ok(stats.workers[0]!.requests <= 4, `requests ${stats.workers[0]!.requests}`);
    await fe.stop();
  });
}

test('request-timeout through nginx, fetch() app: 504, and request.signal aborts so the cleanup runs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'scgi-rt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = join(dir, 'app.log');
  const sv = await startSupervisor({ app: 'timeout-fetch.mjs', workers: 1, args: ['--request-timeout', String(TIMEOUT_S)], env: { TIMEOUT_LOG: log }, t });
  assert.ok('port' in sv.connect);
  const fe = await startNginx({ backends: { tcp: sv.connect }, t });
  const port = fe.ports.tcp!;

  const hang = await fetchOutcome(port, '/hang');
  assert.equal(hang.status, 504, `${JSON.stringify(hang)}\n${sv.logs()}`);
  assert.ok(hang.ms < BOUND_MS, `504 after ${hang.ms} ms, bound ${BOUND_MS} ms`);
  const seen = await pollFor('the fetch app to see its signal abort', 5000, async () => {
    const lines = await appLog(log);
    return lines.length >= 1 ? lines : undefined;
  });
  assert.deepEqual(seen, [{ app: 'fetch', path: '/hang', aborted: true, pid: sv.workerPids()[0] }]);
  const slow = await httpRequest({ port, path: '/slow?ms=500', timeoutMs: 5000 });
  assert.equal(slow.status, 200);
  assert.equal(slow.body.toString(), 'slow 500\n');
  // The app's rejection after the abort is expected: no error-level line for it.
  assert.doesNotMatch(sv.logs(), /ERROR/, sv.logs());
  await fe.stop();
});
