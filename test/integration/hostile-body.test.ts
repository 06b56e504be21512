// Hostile bodies (docs/protocol.md C, cases 23-27) against the built supervisor over raw sockets, on 127.0.0.1 and on a
// unix socket: a short body aborts the request, bytes after the body are ignored, early answers (413, an app's 401)
// arrive intact and are not reset by unread input, and no request waits for a FIN the front ends never send.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertSameWorkers,
  block,
  exchange,
  frame,
  parseResponse,
  request,
  serve,
  show,
  type Outcome,
  type Served,
  type Step,
} from '../helpers/scgi-raw.js';
import { waitFor } from '../helpers/frontends/process-utils.js';
import { echoOf, echoPid } from '../helpers/life-echo.js';


/** An early answer that must reach the client whole, followed by FIN, with no RST while the client still sends. */
function assertEarlyAnswer(o: Outcome, status: number, body: string): void {
  assert.equal(o.ending, 'fin', `the answer must end with FIN, not a reset: ${show(o)}`);
  const res = parseResponse(o.data);
  assert.equal(res.status, status, show(o));
  assert.equal(res.body.toString('latin1'), body, show(o));
  assert.equal(o.errorAfterFin, null, `the connection was reset while the client was still sending its body (${o.sentBytes} bytes sent)`);
}

for (const kind of ['tcp', 'unix'] as const) {
  describe(`hostile bodies over ${kind} (docs/protocol.md cases 23-27)`, { timeout: 60_000 }, () => {
    let s: Served;
    let events: string;
    let eventsDir: string;
    before(async () => {
      eventsDir = await mkdtemp(join(tmpdir(), 'scgi-life-events-'));
      events = join(eventsDir, 'events.jsonl');
      s = await serve({ app: 'life-echo.cjs', kind, env: { LIFE_EVENTS: events } });
    });
    after(async () => {
      await s?.cleanup();
      await rm(eventsDir, { recursive: true, force: true });
    });

    test('case 23: a body shorter than CONTENT_LENGTH then EOF aborts the request: no answer, app sees an error', async () => {
      const req = request('POST', '/short?events=short23', [], '0123456789'.repeat(10));
      const o = await exchange(s.target, [req.subarray(0, req.length - 90), { waitMs: 50 }, 'fin']);
      assert.equal(o.data.length, 0, show(o));
      assert.ok(o.ending === 'fin' || o.ending === 'rst', show(o));
      assert.ok(o.endAfterLastSendMs < 1000, `closed ${o.endAfterLastSendMs}ms after the FIN`);
      const seen = await waitFor('the app to see the request end', async () => {
        const lines = (await readFile(events, 'utf8').catch(() => '')).split('\n').filter(Boolean);
        const mine = lines.map((l) => JSON.parse(l) as { token: string; event: string }).filter((e) => e.token === 'short23');
        return mine.some((e) => e.event === 'aborted' || e.event === 'error') ? mine.map((e) => e.event) : undefined;
      }, { timeoutMs: 3000, intervalMs: 20 });
      assert.ok(seen.includes('start'), String(seen));
      assert.ok(!seen.includes('end'), `the truncated body was dispatched as complete: ${seen}`);
    });

    test('case 24: bytes after the body (≈0.9 MB, and a second request) are ignored and do not reset the answer', async () => {
      const req = request('POST', '/extra', [], 'hello');
      const junk = Buffer.alloc(900_000, 0x78);
      const o = await exchange(s.target, [req, { trickle: junk, chunkBytes: 64 * 1024, everyMs: 5 }], { lingerMs: 1500 });
      assert.equal(Buffer.from(echoOf(o).bodyBase64, 'base64').toString(), 'hello');
      assert.equal(o.errorAfterFin, null, `reset while the client was still sending (${o.sentBytes} bytes sent)`);
      const second = request('GET', '/second');
      const t = await exchange(s.target, [Buffer.concat([request('POST', '/first', [], 'abc'), second])], { lingerMs: 300 });
      const e = echoOf(t);
      assert.equal(e.url, '/first');
      assert.equal(e.bodyLength, 3);
      assert.equal(t.data.toString('latin1').split('Status:').length - 1, 1, `more than one response: ${show(t)}`);
    });

    test('case 25: a 413 for a huge CONTENT_LENGTH arrives intact while the client keeps sending, then FIN, no RST', async () => {
      const head = frame(block([['CONTENT_LENGTH', '2147483648'], ['SCGI', '1'], ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/big']]));
      const steps: Step[] = [head, { trickle: Buffer.alloc(256 * 1024, 0x61), chunkBytes: 16 * 1024, everyMs: 10 }];
      const o = await exchange(s.target, steps, { lingerMs: 1500, timeoutMs: 5000 });
      assert.equal(o.ending, 'fin', show(o));
      const res = parseResponse(o.data);
      assert.equal(res.status, 413, show(o));
      assert.equal(Number(res.headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1]), res.body.length, show(o));
      assert.equal(o.errorAfterFin, null, `reset while the client was still sending (${o.sentBytes} bytes sent)`);
    });

    test('case 25: an app answering 401 before reading a 512 KiB body is drained, not reset', async () => {
      const body = Buffer.alloc(512 * 1024, 0x62);
      const req = request('POST', '/upload?early=401', [], body);
      const headEnd = req.length - body.length;
      const trickled = await exchange(
        s.target,
        [req.subarray(0, headEnd), { trickle: req.subarray(headEnd), chunkBytes: 32 * 1024, everyMs: 10 }],
        { lingerMs: 1500 },
      );
      assertEarlyAnswer(trickled, 401, 'early');
      // all at once, as a buffering front end sends it (1 MiB)
      const mib = request('POST', '/upload?early=401', [], Buffer.alloc(1024 * 1024, 0x63));
      assertEarlyAnswer(await exchange(s.target, [mib], { lingerMs: 1500 }), 401, 'early');
    });

    test('case 26: POST with CONTENT_LENGTH=0 is answered at once with an empty body, no FIN needed', async () => {
      const o = await exchange(s.target, [request('POST', '/empty-post')], { timeoutMs: 3000 });
      const e = echoOf(o);
      assert.equal(e.bodyLength, 0);
      assert.ok(o.endAfterLastSendMs < 1000, `answered after ${o.endAfterLastSendMs}ms`);
    });

    test('case 27: a request is complete at header_end + CONTENT_LENGTH; answered without a FIN, body split or not', async () => {
      const req = request('POST', '/complete', [], 'hello world');
      const whole = await exchange(s.target, [req], { timeoutMs: 3000 });
      assert.equal(Buffer.from(echoOf(whole).bodyBase64, 'base64').toString(), 'hello world');
      assert.ok(whole.endAfterLastSendMs < 1000, `answered after ${whole.endAfterLastSendMs}ms`);
      const split = await exchange(s.target, [req.subarray(0, req.length - 6), { waitMs: 100 }, req.subarray(req.length - 6)], { timeoutMs: 3000 });
      assert.equal(Buffer.from(echoOf(split).bodyBase64, 'base64').toString(), 'hello world');
      assert.ok(split.endAfterLastSendMs < 1000, `answered after ${split.endAfterLastSendMs}ms`);
    });

    test('afterwards: the same workers serve and none exited', async () => {
      await assertSameWorkers(s, echoPid);
    });
  });
}
