// The headline test of issue 4: under steady load through a real nginx, `reload` three times while the app's code
// changes between reloads. Zero non-2xx responses, zero socket errors, every reload exits 0, and afterwards every
// response comes from the newest code. Run with 2 and 8 workers; the reload durations are reported as diagnostics
// (the figures of the closing note). The load is a bounded Node loop of 16 keep-alive clients, so every response's
// status and body can be checked, not only counted; a second test does the same with wrk and checks its error lines.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { startNginx } from '../helpers/frontends/nginx.js';
import type { FrontEnd } from '../helpers/frontends/front-end.js';
import { pollFor, startVersioned, type Supervised } from './control-helpers.js';
import { runWrk } from '../helpers/wrk.js';

const CONCURRENCY = 16;
const RELOADS = 3;
/** A response a worker finished just before it exited may reach the client just after `reload` returned. */
const TAIL_GRACE_MS = 200;
/** `reloaded: generation G, N workers in X.Xs` (cli/commands/reload.ts). */
const RELOADED = /^reloaded: generation (\d+), (\d+) workers in (\d+\.\d)s\n$/;

interface LoadResult {
  total: number;
  non2xx: Array<{ status: number; body: string }>;
  socketErrors: string[];
  /** completion time (ms since epoch) and code version of every 200 response */
  versions: Array<[number, string]>;
}

/** One GET through nginx on a keep-alive agent; resolves with status and body, or rejects on a socket error. */
function httpGet(agent: Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out after 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/** 16 clients in a loop until `stop()`; bounded by `maxMs` in any case. */
function startLoad(port: number, maxMs: number): { answeredAfter(at: number): number; stop(): Promise<LoadResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const result: LoadResult = { total: 0, non2xx: [], socketErrors: [], versions: [] };
  let running = true;
  const deadline = Date.now() + maxMs;
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (running && Date.now() < deadline) {
      try {
        const r = await httpGet(agent, port, '/');
        result.total += 1;
        if (r.status < 200 || r.status > 299) result.non2xx.push(r);
        else result.versions.push([Date.now(), r.body.split(' ')[0]!]);
      } catch (err) {
        result.total += 1;
        result.socketErrors.push((err as Error).message);
      }
    }
  });
  return {
    answeredAfter: (at) => result.versions.filter(([t]) => t > at).length,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}

for (const workers of [2, 8]) {
  describe(`reload under load through nginx, ${workers} workers`, { timeout: 180_000 }, () => {
    let s: Supervised;
    let nginx: FrontEnd;
    before(async () => {
      // TCP between nginx and the supervisor: nginx's workers run as another user and could not enter the 0700 temp dir.
      s = await startVersioned({ workers, kind: 'tcp', args: ['--boot-timeout', '20'] });
      if (s.target.kind !== 'tcp') throw new Error('expected a TCP backend');
      nginx = await startNginx({ backends: { tcp: { host: s.target.host, port: s.target.port } } });
    });
    after(async () => {
      await nginx?.stop();
      await s?.cleanup();
    });

    test(`${RELOADS} reloads with new code each time: zero non-2xx, zero socket errors, newest code answers`, async (t) => {
      const port = nginx.ports.tcp!;
      // Warm up: nginx answers from v1.
      for (let i = 0; i < 10; i++) assert.deepEqual((await httpGet(new Agent(), port, '/')).body.split(' ')[0], 'v1');
      const load = startLoad(port, 150_000);
      const windows: Array<[number, number]> = [];
      const durations: number[] = [];
      let outcome: LoadResult | undefined;
      try {
        for (let i = 2; i <= RELOADS + 1; i++) {
          await s.setVersion(`v${i}`);
          const started = Date.now();
          const r = await s.verb(['reload'], 120_000);
          windows.push([started, Date.now()]);
          assert.equal(r.code, 0, `reload ${i - 1}: ${r.stdout}${r.stderr}\n--- supervisor log (tail) ---\n${s.sup.logs().slice(-4000)}`);
          const m = RELOADED.exec(r.stdout);
          assert.ok(m, `reload ${i - 1} printed ${JSON.stringify(r.stdout)}`);
          assert.equal(Number(m[2]), workers);
          durations.push(Number(m[3]));
          // Every response after the reload returned comes from the new code: the old workers have exited.
          const check = await Promise.all(Array.from({ length: 20 }, () => httpGet(new Agent(), port, '/')));
          assert.deepEqual(new Set(check.map((c) => `${c.status} ${c.body.split(' ')[0]}`)), new Set([`200 v${i}`]));
        }
        // Let the load run on the newest code for a moment, so the tail check below has something to look at.
        const tailFrom = windows[windows.length - 1]![1] + TAIL_GRACE_MS;
        await pollFor('200 responses after the last reload', 10_000, () => (load.answeredAfter(tailFrom) >= 200 ? true : undefined), 20);
      } finally {
        outcome = await load.stop();
      }
      const result = outcome;
      t.diagnostic(`workers=${workers} reload durations (s): ${durations.join(', ')}; requests under load: ${result.total}`);
      assert.deepEqual(result.socketErrors, [], 'socket errors');
      assert.deepEqual(result.non2xx, [], 'non-2xx responses');
      // The load really overlapped each reload: responses completed inside every reload window.
      for (const [from, to] of windows) {
        const inside = result.versions.filter(([at]) => at >= from && at <= to).length;
        assert.ok(inside > 0, `no response completed during the reload window ${from}-${to}`);
      }
      // After the last reload returned (and the grace), only the newest code answers.
      const lastEnd = windows[windows.length - 1]![1] + TAIL_GRACE_MS;
      const tail = result.versions.filter(([at]) => at > lastEnd).map(([, v]) => v);
      assert.ok(tail.length > 0, 'responses after the last reload');
      assert.deepEqual(new Set(tail), new Set([`v${RELOADS + 1}`]));
    });

    test('the same with wrk: two reloads during its run, no "Non-2xx" and no "Socket errors" line', async (t) => {
      const url = `http://127.0.0.1:${nginx.ports.tcp!}/`;
      const seconds = workers <= 2 ? 8 : 20;
      const wrkStarted = Date.now();
      const wrk = runWrk(url, seconds, CONCURRENCY);
      // Reload twice while wrk runs (it starts at once; reloads take seconds, so both land inside its run).
      for (const version of ['w1', 'w2']) {
        await s.setVersion(version);
        const r = await s.verb(['reload'], 120_000);
        assert.equal(r.code, 0, `${r.stdout}${r.stderr}\n--- supervisor log (tail) ---\n${s.sup.logs().slice(-4000)}`);
        assert.match(r.stdout, RELOADED);
      }
      const reloadsDone = Date.now();
      const out = await wrk;
      // Otherwise the run proved nothing about reloads under load.
      assert.ok(reloadsDone < wrkStarted + seconds * 1000, `both reloads finished inside the ${seconds} s wrk run`);
      t.diagnostic(`wrk, ${workers} workers, 2 reloads: ${/Requests\/sec:\s+\S+/.exec(out)?.[0] ?? out}`);
      assert.match(out, /\d+ requests in /);
      assert.doesNotMatch(out, /Non-2xx or 3xx responses/, out);
      assert.doesNotMatch(out, /Socket errors/, out);
      const after = await httpGet(new Agent(), nginx.ports.tcp!, '/');
      assert.equal(after.body.split(' ')[0], 'w2');
    });
  });
}
