// The hung-worker watchdog (issue 12 item 2): a handler stuck in synchronous code is found by the worker's watchdog
// thread, reported with its pid and request, killed by the master and replaced within worker-timeout + 4 s, while
// the other worker keeps answering; stats shows lastExit.reason "worker-timeout". Relies on the master's log line
// "worker N (pid P) event loop blocked for Xs (worker timeout), killing; serving: method=GET uri=/spin… age=…s".

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exchange, parseResponse, request, serve, type Served } from '../helpers/scgi-raw.js';
import { pollFor, runCli } from './control-helpers.js';

const TIMEOUT_S = 2;

describe('worker-timeout', { timeout: 60_000 }, () => {
  let s: Served;
  before(async () => {
    s = await serve({ app: 'watchdog.cjs', kind: 'tcp', workers: 2, args: ['--worker-timeout', String(TIMEOUT_S)] });
  });
  after(async () => {
    await s?.cleanup();
  });

  test('a blocked worker is killed and replaced; the other keeps answering; the log names pid and uri', async () => {
    const hung = exchange(s.target, [request('GET', '/spin?case=hung')], { timeoutMs: 20_000 });
    const sentAt = Date.now();
    // Sent at once, a request could be accepted by the same worker in the same accept loop, then lost with it.
    await new Promise((r) => setTimeout(r, 300));
    // Whichever worker took /spin is blocked; the other answers every request meanwhile (within 1 s each).
    let answered = 0;
    let spinner: number | undefined;
    while (Date.now() - sentAt < (TIMEOUT_S + 4) * 1000) {
      const started = Date.now();
      const o = await exchange(s.target, [request('GET', '/')], { timeoutMs: 5000 });
      assert.equal(o.ending, 'fin', `a request during the block was not answered: ${o.ending}`);
      assert.ok(Date.now() - started < 1000, `a request during the block took ${Date.now() - started} ms`);
      answered++;
      const line = s.sup.logs().match(/worker \d+ \(pid (\d+)\) event loop blocked for [\d.]+s \(worker timeout\), killing; serving: method=GET uri=\/spin\?case=hung age=[\d.]+s/);
      if (line) {
        spinner = Number(line[1]);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(spinner !== undefined, `no "event loop blocked" line naming /spin?case=hung within ${TIMEOUT_S + 4} s\n${s.sup.logs()}`);
    assert.ok(answered > 0);
    assert.ok(s.initialPids.includes(spinner), `the reported pid ${spinner} is not one of the workers ${s.initialPids}`);
    const cut = await hung;
    assert.notEqual(cut.ending, 'timeout', 'the hung request was never cut');
    // Replaced within worker-timeout + 4 s of the request; stats says why the slot's last worker exited.
    const stats = await pollFor('a replacement ready and lastExit worker-timeout', Math.max(500, (TIMEOUT_S + 4) * 1000 - (Date.now() - sentAt)), async () => {
      const r = await runCli(['stats', '--json', '--listen', s.sup.address], 10_000);
      const snap = JSON.parse(r.stdout) as { workers: { pid: number; state: string; restarts: number; lastExit: { reason: string } | null }[] };
      const slot = snap.workers.find((w) => w.lastExit?.reason === 'worker-timeout' && w.state === 'ready' && w.pid !== spinner);
      return slot;
    });
    assert.equal(stats.restarts, 1, 'a worker-timeout kill counts as an unplanned exit');
    const o = await exchange(s.target, [request('GET', '/')]);
    assert.equal(parseResponse(o.data).status, 200);
  });
});
