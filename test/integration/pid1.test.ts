// The supervisor as a container's first process (issue 13 item 5), under `unshare --pid --fork --mount-proc` (no
// container engine here): it is PID 1 in its namespace, warns that it cannot reap what it did not spawn, serves,
// and a SIGTERM (PID 1 gets no default action for signals it has not handled) stops it gracefully with exit 0,
// its workers reaped and gone.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, APPS } from '../helpers/paths.js';
import { freePort, isAlive, signalPid, spawnCollecting, waitFor, waitForExit } from '../helpers/frontends/process-utils.js';
import { exchange, parseResponse, request } from '../helpers/scgi-raw.js';

/** Host pids of `pid`'s children (every thread's children list). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** The pid `pid` has inside its innermost pid namespace (NSpid's last field). */
function innerPid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'))!;
  return Number(line.trim().split(/\s+/).pop());
}

test('as PID 1 of a pid namespace: warns about reaping, serves, and SIGTERM stops it cleanly', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const { proc, output } = spawnCollecting('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, CLI, 'start', join(APPS, 'pid.cjs'), '-w', '2', '-l', `127.0.0.1:${port}`]);
  after(() => {
    if (proc.pid !== undefined && isAlive(proc.pid)) signalPid(-proc.pid, 'SIGKILL');
  });
  // unshare forks the master into the new namespace and waits for it.
  const master = await waitFor('the master to start inside the namespace', () => childrenOf(proc.pid!)[0], { timeoutMs: 10_000, intervalMs: 20 });
  assert.equal(innerPid(master), 1, 'the master is PID 1 in its namespace');
  await waitFor('all workers ready', () => /ready: 2 workers on /.test(output()), { timeoutMs: 20_000, intervalMs: 50 });
  assert.match(output(), /running as PID 1: .*docker run --init/, output());
  const workers = childrenOf(master);
  assert.equal(workers.length, 2, `the master's children: ${workers.join(' ')}`);

  const answer = await exchange({ kind: 'tcp', host: '127.0.0.1', port }, [request('GET', '/')], { timeoutMs: 5000 });
  assert.equal(parseResponse(answer.data).status, 200, output());

  signalPid(master, 'SIGTERM');
  const exit = await waitForExit(proc, 20_000);
  assert.deepEqual(exit, { code: 0, signal: null }, output());
  assert.match(output(), /stopped/);
  for (const pid of [master, ...workers]) assert.equal(isAlive(pid), false, `pid ${pid} is still alive`);
});
