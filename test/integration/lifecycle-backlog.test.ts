// The master never accepts (issue 3 "Master", SCGI.md case 37): with an app that takes 1.5 s to load, connections
// made as soon as the listen address is bound, before any worker is ready, wait in the kernel backlog and are
// served once a worker is ready; none is reset or answered by the master.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../helpers/frontends/process-utils.js';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.js';
import { ALL_READY, exchange, exitOf, listenArg, parseResponse, request, show, WORKER_READY, type Target } from '../helpers/scgi-raw.js';

/** True once something listens at the target (a bare connect succeeds), false while it is refused. */
function canConnect(target: Target): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = target.kind === 'tcp' ? connect({ host: target.host, port: target.port }) : connect({ path: target.path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

for (const kind of ['tcp', 'unix'] as const) {
  describe(`connections before the first worker is ready, over ${kind}`, { timeout: 60_000 }, () => {
    let sup: Supervisor | undefined;
    let dir = '';
    after(async () => {
      await sup?.stop('SIGKILL', 1000);
      await rm(dir, { recursive: true, force: true });
    });

    test('are queued in the backlog and served once a worker is ready, not reset', async () => {
      dir = await mkdtemp(join(tmpdir(), 'scgi-life-backlog-'));
      const target: Target =
        kind === 'tcp' ? { kind: 'tcp', host: '127.0.0.1', port: await freePort() } : { kind: 'unix', path: join(dir, 'scgi.sock') };
      const s = await startSupervisor({ app: 'life-slow-load.cjs', workers: 2, listen: listenArg(target), noWait: true });
      sup = s;
      await waitFor('the listen address to be bound', () => canConnect(target), { timeoutMs: 5000, intervalMs: 10 });
      const early = Array.from({ length: 4 }, () => exchange(target, [request('GET', '/early')], { timeoutMs: 10_000 }));
      // The point of the test: these connections exist before any worker is ready.
      assert.doesNotMatch(s.logs(), ALL_READY, 'the workers were already ready; the app did not load slowly');
      assert.doesNotMatch(s.logs(), WORKER_READY);
      const outcomes = await Promise.all(early);
      for (const o of outcomes) {
        assert.equal(o.ending, 'fin', show(o));
        const res = parseResponse(o.data);
        assert.equal(res.status, 200, show(o));
        assert.ok(s.workerPids().includes(Number(res.body.toString())), `answered by ${res.body} (not a ready worker)`);
      }
      process.kill(s.pid, 'SIGTERM');
      assert.equal((await exitOf(s, 10_000)).code, 0, s.logs());
    });
  });
}
