// The master never accepts (issue 3 "Master", docs/protocol.md case 37): with an app that takes 1.5 s to load, connections
// made as soon as the listen address is bound, before any worker is ready, wait in the kernel backlog and are
// served once a worker is ready; none is reset or answered by the master.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
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

/**
 * Server-side connection sockets (not the listener) at `target` that the process `pid` holds open: read from
 * /proc/<pid>/fd and /proc/net/{tcp,unix}. A connection still in the accept queue belongs to no process (inode 0).
 */
function connectionsHeldBy(pid: number, target: Target): number[] {
  const held = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) held.add(Number(m[1]));
    } catch {
      // the fd closed while we looked
    }
  }
  const inodes: number[] = [];
  if (target.kind === 'tcp') {
    const port = target.port.toString(16).toUpperCase().padStart(4, '0');
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] (hex ip:port), st is f[3] ('0A' = LISTEN), inode is f[9]
      if (f.length > 9 && f[1]!.endsWith(`:${port}`) && f[3] !== '0A') inodes.push(Number(f[9]));
    }
  } else {
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // St is f[5] ('03' = connected), Inode f[6], Path f[7]; an accepted socket carries the listener's path
      if (f.length > 7 && f[7] === target.path && f[5] === '03') inodes.push(Number(f[6]));
    }
  }
  return inodes.filter((inode) => inode !== 0 && held.has(inode));
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
      // While they wait, the master must hold none of them (it never accepts); polled until they are all answered.
      let answered = false;
      const all = Promise.all(early).finally(() => (answered = true));
      const heldByMaster = new Set<number>();
      while (!answered) {
        for (const inode of connectionsHeldBy(s.pid, target)) heldByMaster.add(inode);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual([...heldByMaster], [], 'the master accepted connections');
      const outcomes = await all;
      for (const o of outcomes) {
        assert.equal(o.ending, 'fin', show(o));
        const res = parseResponse(o.data);
        assert.equal(res.status, 200, show(o));
        // The answer can arrive before the master's "ready" line for that worker has been read from its stdout
        // (a fresh CI machine saw exactly that): wait for the line, bounded, rather than assert on it at once.
        const pid = Number(res.body.toString());
        await waitFor(`worker ${pid} to be listed as ready`, () => s.workerPids().includes(pid), { timeoutMs: 5000, intervalMs: 20 }).catch(() => {
          assert.fail(`answered by ${res.body} (not a ready worker of this master)\n${s.logs()}`);
        });
        assert.equal(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1], String(s.pid), `answered by ${pid}, not a child of the master`);
      }
      process.kill(s.pid, 'SIGTERM');
      assert.equal((await exitOf(s, 10_000)).code, 0, s.logs());
    });
  });
}
