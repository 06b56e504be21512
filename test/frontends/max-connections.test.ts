// --max-connections 1 through a real nginx: bursts of 20 simultaneous CPU-bound requests (100 ms of synchronous
// work each) on 2 workers. Without a cap, libuv accepts whatever is queued each time a worker's loop wakes, so a
// worker that comes back from a request takes everything that queued meanwhile, however busy that makes it; with
// the cap a worker closes its listening descriptor while it handles a request, and the rest waits in the kernel
// backlog for whichever worker is free. The bar (issue 12): every burst ends within 1.5 × the ideal and no worker
// takes more than two thirds of it.
//
// Without the cap (--max-connections 0) one burst in five or so went whole to one worker (20/0, 2.05 × the ideal)
// in each of 3 runs here, so with 8 bursts this test fails without the cap; with it every burst was 10/10 or 11/9.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { startSupervisor } from '../helpers/supervisor.js';
import { startNginx } from '../helpers/frontends/nginx.js';

const WORKERS = 2;
const BURST = 20;
const WORK_MS = 100;
const BURSTS = 8;

interface Burst {
  ms: number;
  idealMs: number;
  /** Requests of the burst per worker, largest first. */
  shares: number[];
}

/** A GET over the client's kept-alive connections to nginx; resolves with the body (the worker's pid). */
function getVia(agent: Agent, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`${path}: ${res.statusCode} ${body}`))));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function setUp(t: TestContext): Promise<(path: string) => Promise<string>> {
  const sv = await startSupervisor({ app: 'cpu-burst.cjs', workers: WORKERS, args: ['--max-connections', '1'], t });
  assert.ok('port' in sv.connect);
  const fe = await startNginx({ backends: { tcp: sv.connect }, t });
  const port = fe.ports.tcp!;
  // Clients keep their connections to nginx open (browsers, other proxies): a burst then reaches nginx as requests
  // on open connections, and nginx opens its SCGI connections within a fraction of a millisecond.
  const agent = new Agent({ keepAlive: true, maxSockets: BURST + 1 });
  t.after(() => agent.destroy());
  const get = (path: string): Promise<string> => getVia(agent, port, path).catch((err: Error) => {
    throw new Error(`${err.message}\n${fe.errorLog()}`);
  });
  // Open the connections and warm up both workers (JIT) outside the measured bursts.
  await Promise.all(Array.from({ length: BURST + 1 }, () => get('/?ms=1')));
  return get;
}

function sharesOf(pids: string[]): number[] {
  const byPid = new Map<string, number>();
  for (const pid of pids) {
    byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
  }
  return [...byPid.values()].sort((x, y) => y - x);
}

function check(t: TestContext, bursts: Burst[]): void {
  const report = bursts.map((b, i) => `burst ${i}: ${b.ms} ms = ${(b.ms / b.idealMs).toFixed(2)} × the ideal ${b.idealMs} ms, shares ${b.shares.join('/')}`);
  for (const line of report) t.diagnostic(line);
  for (const b of bursts) {
    assert.ok(b.ms <= 1.5 * b.idealMs, `a burst took more than 1.5 × its ideal:\n${report.join('\n')}`);
    assert.ok(b.shares[0]! <= (BURST * 2) / 3, `one worker took more than two thirds of a burst:\n${report.join('\n')}`);
  }
}

test('--max-connections 1: bursts of 20 CPU-bound requests on 2 idle workers through nginx end near the ideal, shared fairly', async (t) => {
  const get = await setUp(t);
  const bursts: Burst[] = [];
  for (let b = 0; b < BURSTS; b++) {
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: BURST }, () => get(`/?ms=${WORK_MS}`)));
    bursts.push({ ms: Date.now() - started, idealMs: (BURST * WORK_MS) / WORKERS, shares: sharesOf(replies) });
  }
  check(t, bursts);
});
