// Worker deaths (docs/protocol.md case 37, issue 3 "Lifecycle"): kill -9 one worker and a new pid serves and the log says
// respawning; kill -9 every worker at once under a stream of requests and no connection is refused (the master keeps
// the listening socket, connections wait in the backlog), only requests in flight on the killed workers may fail.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  exchange,
  parseResponse,
  request,
  serve,
  show,
  type Outcome,
  type Served,
  type Target,
} from '../helpers/scgi-raw.js';
import { isAlive, waitFor } from '../helpers/frontends/process-utils.js';

function pidFrom(o: Outcome): number | null {
  if (o.ending !== 'fin' || o.data.length === 0) return null;
  const res = parseResponse(o.data);
  return res.status === 200 ? (JSON.parse(res.body.toString('utf8')) as { pid: number }).pid : null;
}

/** `n` concurrent requests; the pids that answered. */
async function burst(target: Target, n: number): Promise<number[]> {
  const outcomes = await Promise.all(Array.from({ length: n }, () => exchange(target, [request('GET', '/burst?ms=20')])));
  return outcomes.map(pidFrom).filter((p): p is number => p !== null);
}

const respawnedLine = (pid: number): RegExp => new RegExp(`worker \\d+ \\(pid ${pid}\\) exited on SIGKILL; respawning`);

for (const kind of ['tcp', 'unix'] as const) {
  describe(`worker deaths over ${kind}`, { timeout: 60_000 }, () => {
    let s: Served;
    before(async () => {
      s = await serve({ app: 'life-echo.cjs', kind, workers: 2 });
    });
    after(async () => {
      await s?.cleanup();
    });

    test('kill -9 one worker: the log says respawning and a new pid serves', async () => {
      const [victim, survivor] = s.initialPids;
      assert.ok(victim && survivor, `two ready workers expected, got ${s.initialPids}`);
      process.kill(victim, 'SIGKILL');
      await s.sup.waitForLog(respawnedLine(victim), 5000);
      const fresh = await waitFor('a replacement worker ready', () => s.sup.workerPids().find((p) => !s.initialPids.includes(p)), {
        timeoutMs: 5000,
        intervalMs: 20,
      });
      // Which process wins accept() is the kernel's choice: ask in concurrent bursts until the new pid answers.
      const seen = new Set<number>();
      await waitFor(`pid ${fresh} to answer`, async () => {
        for (const pid of await burst(s.target, 8)) seen.add(pid);
        return seen.has(fresh);
      }, { timeoutMs: 8000, intervalMs: 1 });
      assert.ok(!seen.has(victim), `the killed pid ${victim} answered`);
    });

    test('kill -9 every worker at once under load: no connection refused, the replacements serve', async (t) => {
      const clients = 8;
      const runMs = 3000;
      // the first test's victim is gone; its replacement and the survivor are the two live workers
      const live = s.sup.workerPids().filter(isAlive);
      assert.equal(live.length, 2, `two live workers expected before the kill, got ${live}`);
      const stopAt = Date.now() + runMs;
      const tally = { ok: 0, refused: 0, failed: 0, okAfterKillByNewPid: 0, failures: [] as string[] };
      let killedAt = 0;
      const client = async (): Promise<void> => {
        while (Date.now() < stopAt) {
          const started = Date.now();
          const o = await exchange(s.target, [request('GET', '/load?ms=10')], { timeoutMs: 5000 });
          const pid = pidFrom(o);
          if (pid !== null) {
            tally.ok++;
            if (killedAt > 0 && started > killedAt && !live.includes(pid)) tally.okAfterKillByNewPid++;
          } else if (o.ending === 'refused') tally.refused++;
          else {
            tally.failed++;
            tally.failures.push(show(o));
          }
        }
      };
      const killer = (async () => {
        await new Promise((r) => setTimeout(r, 800));
        killedAt = Date.now();
        for (const pid of live) process.kill(pid, 'SIGKILL');
      })();
      await Promise.all([killer, ...Array.from({ length: clients }, client)]);
      t.diagnostic(`ok=${tally.ok} refused=${tally.refused} failed=${tally.failed} servedByReplacements=${tally.okAfterKillByNewPid}`);
      assert.equal(tally.refused, 0, `connections refused while the workers restarted: ${JSON.stringify(tally)}`);
      // Only a request in flight on a killed worker may fail: at most one per client.
      assert.ok(tally.failed <= clients, `${tally.failed} requests failed (at most ${clients} were in flight): ${tally.failures.join('\n')}`);
      assert.ok(tally.okAfterKillByNewPid > 0, `no request after the kill was served by a replacement: ${JSON.stringify(tally)}`);
      // The log tells a slot's first crash in a minute, then one summary line a minute (docs/configuration.md "Crashes
      // and restarts"): the first test's victim's slot crashed already, so only the survivor's kill is told now.
      const survivor = s.initialPids[1]!;
      if (live.includes(survivor)) await s.sup.waitForLog(respawnedLine(survivor), 3000);
      for (const pid of live) assert.ok(!isAlive(pid), `pid ${pid} survived SIGKILL`);
    });
  });
}
