// No orphan (issue 13 item 2): SIGKILL of the master with one worker blocked in synchronous code, one mid-request
// (an async handler) and one idle. Within 2 s the port is free and the blocked and idle workers are gone (the
// watchdog thread sees its parent pid change: it asks the main thread to drain, and kills a main thread that cannot
// answer); the mid-request one answers its request and then exits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { exchange, parseResponse, request, serve } from '../helpers/scgi-raw.js';
import { pollFor } from './control-helpers.js';

/** Gone or a zombie (dead, not yet reaped by whichever process inherited it). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

test('SIGKILL of the master leaves no orphan', { timeout: 60_000 }, async (t) => {
  const s = await serve({ app: 'watchdog.cjs', kind: 'tcp', workers: 3, args: ['--worker-timeout', '0', '--graceful-timeout', '10'] });
  const pids = s.initialPids;
  t.after(async () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: gone, as it should be
      }
    }
    await s.cleanup();
  });
  assert.equal(pids.length, 3);
  assert.equal(s.target.kind, 'tcp');
  const port = s.target.kind === 'tcp' ? s.target.port : 0;
  const blocked = exchange(s.target, [request('GET', '/spin')], { timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 300));
  const slow = exchange(s.target, [request('GET', '/slow?ms=3000')], { timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 300));
  process.kill(s.sup.pid, 'SIGKILL');
  const killedAt = Date.now();
  // Within 2 s: the port is free and two of the three workers are gone (blocked and idle); one stays, mid-request.
  await pollFor('the port free and two workers gone', 2000, async () => ((await portFree(port)) && pids.filter(gone).length >= 2 ? true : undefined));
  const left = pids.filter((p) => !gone(p));
  assert.equal(left.length, 1, `one worker (mid-request) expected alive at ${Date.now() - killedAt} ms, got ${left}`);
  const answer = await slow;
  assert.equal(answer.ending, 'fin');
  assert.equal(JSON.parse(parseResponse(answer.data).body.toString('utf8')).pid, left[0], 'the mid-request worker answered its request');
  await pollFor('the mid-request worker gone after its request', 3000, () => (gone(left[0]!) ? true : undefined));
  assert.notEqual((await blocked).ending, 'timeout');
});
