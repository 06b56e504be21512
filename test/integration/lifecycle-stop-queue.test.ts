// A stop loses nothing that was queued (issue 13 item 3): with one worker at --max-connections 1 busy on a slow
// request, five more wait in the kernel's accept queue; SIGTERM to the master must answer all six (the master
// empties the queue before it closes the socket), and new connections are refused at once: a unix socket's path is
// gone (ENOENT), a TCP SYN is dropped (no handshake).
// Not the netns/nginx test of the same promise (test/frontends/stop-queue.test.ts).

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exchange, exitOf, parseResponse, request, serve, show, type Served, type Target } from '../helpers/scgi-raw.js';
import { waitFor } from '../helpers/frontends/process-utils.js';

/** Recv-Q of the listening socket as `ss` shows it (the accept queue's depth), or null when `ss` does not list it. */
function queueDepth(target: Target): Promise<number | null> {
  const args = target.kind === 'tcp' ? ['-ltnH', `sport = :${target.port}`] : ['-xlnH', 'src', target.path];
  return new Promise((resolve) => {
    execFile('ss', args, { timeout: 2000 }, (err, stdout) => {
      // "LISTEN 5 511 127.0.0.1:4000 …" (tcp) or "u_str LISTEN 5 511 /path …" (unix): Recv-Q follows the state.
      const f = err ? [] : (stdout.split('\n').find((l) => /\bLISTEN\b/.test(l)) ?? '').trim().split(/\s+/);
      const at = f.indexOf('LISTEN');
      resolve(at === -1 ? null : Number(f[at + 1]));
    });
  });
}

function connectError(path: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(null);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** A TCP connect that neither completes nor fails within `ms` (its SYN dropped): 'no answer'. */
function connectWithin(port: number, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('no answer');
    }, ms);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? e.message);
    });
  });
}

describe('stop with connections queued in the kernel', { timeout: 40_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  for (const kind of ['tcp', 'unix'] as const) {
    test(`${kind}: 1 request in flight + 5 queued, SIGTERM → all 6 answered 200`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'scgi-stop-queue-'));
      const events = join(dir, 'events.jsonl');
      const s: Served = await serve({ app: 'life-echo.cjs', kind, workers: 1, args: ['--max-connections', '1'], env: { LIFE_EVENTS: events } });
      cleanups.push(() => s.cleanup(), () => rm(dir, { recursive: true, force: true }));

      const slow = exchange(s.target, [request('GET', '/slow?ms=1000&events=slow')], { timeoutMs: 10_000 });
      await waitFor('the app to start the slow request', async () => (await readFile(events, 'utf8').catch(() => '')).includes('"token":"slow","event":"start"'), {
        timeoutMs: 5000,
        intervalMs: 20,
      });
      // The worker is at its cap: these wait in the kernel's accept queue, not in the worker (checked below).
      const queued = [0, 1, 2, 3, 4].map((i) =>
        exchange(s.target, [request(i % 2 ? 'POST' : 'GET', `/queued?i=${i}`, [], i % 2 ? `body ${i}` : '')], { timeoutMs: 10_000 }),
      );
      await waitFor('5 connections in the accept queue', async () => (await queueDepth(s.target)) === 5, { timeoutMs: 3000, intervalMs: 20 });

      let answered = 0;
      for (const o of [slow, ...queued]) void o.then(() => answered++);
      process.kill(s.sup.pid, 'SIGTERM');
      if (s.target.kind === 'unix') {
        // The path goes at the start of the stop, while the socket still serves what is queued.
        const path = s.target.path;
        await waitFor('the socket path to be unlinked', () => !existsSync(path), { timeoutMs: 2000, intervalMs: 5 });
        assert.equal(await connectError(path), 'ENOENT');
        assert.equal(answered, 0, 'the path was still there when the queued requests were answered');
      } else {
        // TCP: new SYNs are dropped from the start of the stop (native/syn_filter.c), the queued five stay.
        await waitFor('the stop to refuse new connections', () => /stopping: new connections refused/.test(s.sup.logs()), { timeoutMs: 2000, intervalMs: 5 });
        assert.equal(await connectWithin(s.target.port, 300), 'no answer');
        assert.equal(answered, 0, 'a new connection was refused while the queued requests still waited');
      }
      const outcomes = await Promise.all([slow, ...queued]);
      const statuses = outcomes.map((o) => (o.ending === 'fin' ? parseResponse(o.data).status : `${o.ending} ${o.errorCode ?? ''}`));
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200], `${outcomes.map(show).join('\n')}\n${s.sup.logs()}`);
      const exit = await exitOf(s.sup, 10_000);
      assert.equal(exit.code, 0, s.sup.logs());
      // Stable lines (lifecycle.ts logStopping, stop-emptying.ts).
      assert.match(s.sup.logs(), /stopping: draining 1 workers \(graceful timeout 30s\)/);
      assert.match(s.sup.logs(), /stopping: emptying the listen queue \(5 waiting\)/);
      assert.match(s.sup.logs(), /listen queue empty after \d+ ms; draining 1 workers/);
    });
  }
});
