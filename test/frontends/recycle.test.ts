// Recycling through a real nginx (issue 12): a worker past --max-requests or --max-memory is replaced by one that is
// ready before it drains, so under load nothing fails and the pool never has fewer than N ready workers.
//
// Shown failing with the protection changed: with pool.ts draining a marked worker at once (before its replacement
// is ready) the 100 ms stats samples saw 1 of 2 ready; with --max-memory left out the leaking workers grew past the
// bar and none was recycled.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { ControlClient } from '../../src/control/client.js';
import type { StatsSnapshot } from '../../src/stats-contract.js';
import { runWrk } from '../helpers/wrk.js';

const WORKERS = 2;

async function setUp(t: TestContext, app: string, args: string[]): Promise<{ sv: Supervisor; port: number; stats: () => Promise<StatsSnapshot> }> {
  const control = join(mkdtempSync(join(tmpdir(), 'scgi-recycle-')), 'ctl.sock');
  const sv = await startSupervisor({ app, workers: WORKERS, args: ['--control', control, ...args], t });
  assert.ok('port' in sv.connect);
  const fe = await startNginx({ backends: { tcp: sv.connect }, t });
  const client = new ControlClient(control);
  await client.connect(5000);
  t.after(() => client.close());
  return { sv, port: fe.ports.tcp!, stats: () => client.request<StatsSnapshot>('stats', {}, 5000) };
}

/** Samples `stats` every 100 ms until stopped: the fewest workers in state ready seen, and the samples taken. */
function watchReady(stats: () => Promise<StatsSnapshot>): { stop: () => Promise<{ minReady: number; samples: number; maxMemory: number }> } {
  let running = true;
  let minReady = Infinity;
  let samples = 0;
  let maxMemory = 0;
  const loop = (async () => {
    while (running) {
      const s = await stats();
      samples++;
      minReady = Math.min(minReady, s.workers.filter((w) => w.state === 'ready').length);
      for (const w of s.workers) maxMemory = Math.max(maxMemory, w.memory ?? 0);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { minReady, samples, maxMemory };
    },
  };
}

test('--max-requests under wrk -c16 for 8 s through nginx: 0 errors, never fewer than N ready, workers recycled', { timeout: 60_000 }, async (t) => {
  const { sv, port, stats } = await setUp(t, 'hello.cjs', ['--max-requests', '2000', '--max-requests-jitter', '500']);
  const watch = watchReady(stats);
  const out = await runWrk(`http://127.0.0.1:${port}/`, 8, 16);
  const { minReady, samples } = await watch.stop();
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const after = await stats();
  t.diagnostic(`wrk: ${total} requests, ${after.master.totals.recycles} recycles, fewest ready ${minReady} in ${samples} samples`);
  assert.doesNotMatch(out, /Non-2xx|Socket errors/, `wrk saw errors:\n${out}`);
  assert.ok(samples >= 40, `stats sampled ${samples} times`);
  assert.ok(minReady >= WORKERS, `a stats sample showed ${minReady} of ${WORKERS} ready\n${sv.logs().slice(-3000)}`);
  assert.ok(after.master.totals.recycles >= 2, `recycles: ${after.master.totals.recycles} in ${total} requests\n${sv.logs().slice(-3000)}`);
  assert.equal(after.master.totals.restarts, 0, 'a recycle is not a restart');
  const recycled = after.workers.find((w) => w.lastExit?.reason === 'recycled');
  assert.deepEqual(recycled?.lastExit?.limit, 'max-requests');
  assert.match(sv.logs(), /reached max-requests \(\d+ requests, limit (\d+)\); recycling/);
  for (const m of sv.logs().matchAll(/limit (\d+)\); recycling/g)) {
    const limit = Number(m[1]);
    assert.ok(limit >= 2000 && limit <= 2500, `a worker's limit ${limit} is max-requests + jitter`);
  }
});

function get(agent: Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

test('--max-memory: a leaking app is recycled before twice the limit, every request answered', { timeout: 60_000 }, async (t) => {
  const LIMIT_MIB = 160;
  const { sv, port, stats } = await setUp(t, 'leak.cjs', ['--max-memory', String(LIMIT_MIB)]);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  const watch = watchReady(stats);
  // 4 clients, 1 MiB kept per request, about 100 requests a second in all: each worker grows some 50 MiB/s.
  let sent = 0;
  let failed = 0;
  let biggest = 0;
  const deadline = Date.now() + 6_000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < deadline) {
        sent++;
        const r = await get(agent, port, '/leak?mib=1').catch(() => ({ status: 0, body: '' }));
        if (r.status !== 200) failed++;
        else biggest = Math.max(biggest, Number(r.body.split(' ')[1]));
        await new Promise((res) => setTimeout(res, 40));
      }
    }),
  );
  const { minReady, maxMemory } = await watch.stop();
  const after = await stats();
  const recycles = after.master.totals.recycles;
  t.diagnostic(`sent ${sent}, failed ${failed}, ${recycles} recycles, largest RSS a worker reported ${biggest} MiB (sampled ${Math.round(maxMemory / 1048576)} MiB), limit ${LIMIT_MIB} MiB, fewest ready ${minReady}`);
  assert.equal(failed, 0, `${failed} of ${sent} requests failed\n${sv.logs().slice(-3000)}`);
  assert.ok(recycles >= 1, `recycles: ${recycles}\n${sv.logs().slice(-3000)}`);
  assert.ok(biggest < 2 * LIMIT_MIB, `a worker reached ${biggest} MiB, twice the limit is ${2 * LIMIT_MIB}`);
  assert.doesNotMatch(sv.logs(), /over twice max-memory/, 'recycled, never killed');
  assert.ok(minReady >= WORKERS, `a stats sample showed ${minReady} of ${WORKERS} ready`);
  const row = after.workers.find((w) => w.lastExit?.reason === 'recycled');
  assert.deepEqual(row?.lastExit, { code: 0, signal: null, reason: 'recycled', limit: 'max-memory' });
  assert.equal(after.master.totals.restarts, 0);
});
