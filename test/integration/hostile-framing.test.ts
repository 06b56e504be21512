// Hostile framing (docs/protocol.md A, cases 1-14) against the built supervisor over raw sockets, on 127.0.0.1 and on a
// unix socket: each bad byte gets its 400/431 at once or a silent close, slow senders are cut by the header and body
// deadlines, and afterwards the same two workers still serve. Not the parser's unit tests (test/unit/protocol).

import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertRejected,
  assertSameWorkers,
  assertSilentClose,
  block,
  errorLines,
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
import { echoOf, echoPid, type Echo } from '../helpers/life-echo.js';

const HEADER_TIMEOUT_S = 2;
const BODY_TIMEOUT_S = 2;


/** 408 (well formed) or a silent close: "silent-close if nothing can be said, otherwise 408" (case 13). */
function assertTimedOut(t: TestContext, o: Outcome, fromMs: number, toMs: number): void {
  t.diagnostic(`${o.data.length > 0 ? o.data.toString('latin1').split('\r\n')[0] : 'silent close'} (${o.ending}) after ${o.endMs}ms`);
  assert.ok(o.ending === 'fin' || o.ending === 'rst', `expected the worker to end the connection; ${show(o)}`);
  if (o.data.length > 0) assert.equal(parseResponse(o.data).status, 408, show(o));
  assert.ok(o.endMs >= fromMs && o.endMs <= toMs, `ended after ${o.endMs}ms, expected ${fromMs}-${toMs}ms; ${show(o)}`);
}

const withoutPid = (e: Echo): Omit<Echo, 'pid'> => {
  const { pid: _pid, ...rest } = e;
  return rest;
};

for (const kind of ['tcp', 'unix'] as const) {
  describe(`hostile framing over ${kind} (docs/protocol.md cases 1-14)`, { timeout: 60_000 }, () => {
    let s: Served;
    before(async () => {
      s = await serve({
        app: 'life-echo.cjs',
        kind,
        args: ['--header-timeout', String(HEADER_TIMEOUT_S), '--body-timeout', String(BODY_TIMEOUT_S)],
      });
    });
    after(async () => {
      await s?.cleanup();
    });

    test('case 1: a request split byte by byte, or at the colon, is answered exactly as a whole one', async () => {
      const req = request('POST', '/split?x=1', [['HTTP_X_A', 'a'], ['CONTENT_TYPE', 'text/plain']], 'body-bytes');
      const whole = echoOf(await exchange(s.target, [req]));
      const byteSteps: Step[] = [];
      for (const b of req) byteSteps.push(Buffer.from([b]), { waitMs: 1 });
      const byByte = echoOf(await exchange(s.target, byteSteps, { timeoutMs: 8000 }));
      assert.deepEqual(withoutPid(byByte), withoutPid(whole));
      const colon = req.indexOf(0x3a);
      for (const at of [1, colon, colon + 1, colon + 2, req.length - 11, req.length - 10, req.length - 1]) {
        const split = echoOf(await exchange(s.target, [req.subarray(0, at), { waitMs: 15 }, req.subarray(at)]));
        assert.deepEqual(withoutPid(split), withoutPid(whole), `split at ${at}`);
      }
      assert.equal(Buffer.from(whole.bodyBase64, 'base64').toString('latin1'), 'body-bytes');
    });

    test('case 2: a leading zero in the netstring length, and the empty block 0:,, get 400', async () => {
      assertRejected(await exchange(s.target, [Buffer.concat([Buffer.from('0'), request('GET', '/')])]), 400);
      assertRejected(await exchange(s.target, ['070:']), 400);
      assertRejected(await exchange(s.target, ['0:,']), 400);
    });

    test('case 3: a non-digit in the length gets 400 as soon as the bad byte arrives (no more bytes sent)', async () => {
      for (const prefix of ['7a', ' ', '+', '-', '-1', 'x']) {
        const o = await exchange(s.target, [prefix], { timeoutMs: 3000 });
        assert.notEqual(o.ending, 'timeout', `prefix ${JSON.stringify(prefix)} waited for more bytes`);
        assertRejected(o, 400);
      }
    });

    test('case 4: a first byte 0x00 (uwsgi framing, garbage) gets 400 at once', async () => {
      assertRejected(await exchange(s.target, [Buffer.from([0])], { timeoutMs: 3000 }), 400);
      // what lighttpd sends with scgi.protocol = "uwsgi" (docs/protocol.md "Front ends, in brief")
      const uwsgi = Buffer.concat([Buffer.from([0x00, 0x06, 0x02, 0x00, 0x0e, 0x00]), Buffer.from('CONTENT_LENGTH')]);
      assertRejected(await exchange(s.target, [uwsgi], { timeoutMs: 3000 }), 400);
    });

    test('case 5: a length over the 64 KiB limit or of 8 digits gets 431 before the block is sent', async () => {
      for (const prefix of ['65537:', '70000', '12345678', '99999999999:']) {
        const o = await exchange(s.target, [prefix], { timeoutMs: 3000 });
        assert.notEqual(o.ending, 'timeout', `prefix ${prefix} waited for the block`);
        const res = assertRejected(o, 431);
        assert.equal(res.reason, 'Request Header Fields Too Large', show(o));
      }
      // Legitimate traffic: 3 × 7000-byte headers (a 21 KB block, as nginx and Apache forwarded) is served.
      const big = 'v'.repeat(7000);
      const e = echoOf(await exchange(s.target, [request('GET', '/big', [['HTTP_X_A', big], ['HTTP_X_B', big], ['HTTP_X_C', big]])]));
      assert.equal(e.headers['x-c'], big);
    });

    test('case 6: digits then EOF is a silent close; digits then a non-digit other than ":" is 400', async () => {
      assertSilentClose(await exchange(s.target, ['70', 'fin']));
      assertRejected(await exchange(s.target, ['70;']), 400);
      assertRejected(await exchange(s.target, ['70,']), 400);
    });

    test('case 7: a block not followed by a comma gets 400 (no resync)', async () => {
      const b = block([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/']]);
      assertRejected(await exchange(s.target, [Buffer.concat([Buffer.from(`${b.length}:`), b, Buffer.from(';')])]), 400);
      // a length one short: the comma position holds the last NUL
      assertRejected(await exchange(s.target, [Buffer.concat([Buffer.from(`${b.length - 1}:`), b, Buffer.from(',')])]), 400);
    });

    test('case 8: a block not ending in NUL, or an odd number of strings, gets 400', async () => {
      const noNul = Buffer.from('CONTENT_LENGTH\x000\x00SCGI\x001\x00REQUEST_METHOD\x00GET\x00REQUEST_URI\x00/', 'latin1');
      assertRejected(await exchange(s.target, [frame(noNul)]), 400);
      const odd = Buffer.concat([block([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/']]), Buffer.from('LONELY\x00')]);
      assertRejected(await exchange(s.target, [frame(odd)]), 400);
    });

    test('case 9: an empty name gets 400', async () => {
      const b = block([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/'], ['', 'value']]);
      assertRejected(await exchange(s.target, [frame(b)]), 400);
    });

    test('case 10: empty values are accepted (nginx CONTENT_TYPE="", SERVER_NAME="", Apache HTTP_X_EMPTY="")', async () => {
      const e = echoOf(
        await exchange(s.target, [
          request('GET', '/empty', [['CONTENT_TYPE', ''], ['SERVER_NAME', ''], ['QUERY_STRING', ''], ['HTTP_X_EMPTY', '']]),
        ]),
      );
      assert.equal(e.url, '/empty');
      assert.equal(e.headers['x-empty'], '');
    });

    test('case 11: EOF inside the header block is a silent close, and the workers go on serving', async () => {
      const req = request('GET', '/after-eof');
      for (const cut of [3, 10, 20, req.length - 1]) {
        assertSilentClose(await exchange(s.target, [req.subarray(0, cut), 'fin']));
      }
      assert.equal(echoOf(await exchange(s.target, [req])).url, '/after-eof');
    });

    test('case 12: a connection that sends 0 bytes then FIN is a silent close, never logged as an error', async () => {
      const errorsBefore = errorLines(s.sup.logs()).length;
      for (let i = 0; i < 6; i++) assertSilentClose(await exchange(s.target, ['fin']));
      assert.equal(echoOf(await exchange(s.target, [request('GET', '/after-empty')])).url, '/after-empty');
      assert.deepEqual(errorLines(s.sup.logs()).slice(errorsBefore), []);
    });

    test('case 13: slowloris (1 byte / 300 ms) and an idle socket are cut at the total header deadline', async (t) => {
      const deadline = HEADER_TIMEOUT_S * 1000;
      const req = request('GET', '/slow');
      const trickle: Step = { trickle: req, chunkBytes: 1, everyMs: 300 };
      const [slow, idle] = await Promise.all([
        exchange(s.target, [trickle], { timeoutMs: deadline + 4000 }),
        exchange(s.target, [], { timeoutMs: deadline + 4000 }),
      ]);
      // total, not per byte: the trickle keeps sending every 300 ms and must still be cut near the deadline
      assertTimedOut(t, slow, deadline - 300, deadline + 1500);
      assertTimedOut(t, idle, deadline - 300, deadline + 1500);
    });

    test('case 13: a body that stalls is cut by the body idle timeout', async (t) => {
      const req = request('POST', '/stall', [], '0123456789');
      const o = await exchange(s.target, [req.subarray(0, req.length - 7)], { timeoutMs: BODY_TIMEOUT_S * 1000 + 4000 });
      assertTimedOut(t, o, BODY_TIMEOUT_S * 1000 - 300, BODY_TIMEOUT_S * 1000 + 1500);
    });

    test('case 14: a large block announced within the limit but trickled is cut by the header deadline', async (t) => {
      const big = request('GET', '/trickled', [['HTTP_X_BIG', 'b'.repeat(60_000)]]);
      assert.ok(big.length < 64 * 1024);
      const o = await exchange(s.target, [{ trickle: big, chunkBytes: 200, everyMs: 20 }], { timeoutMs: HEADER_TIMEOUT_S * 1000 + 4000 });
      assertTimedOut(t, o, HEADER_TIMEOUT_S * 1000 - 300, HEADER_TIMEOUT_S * 1000 + 1500);
      assert.ok(o.sentBytes < big.length, `the whole block was sent (${o.sentBytes} bytes) before the cut`);
    });

    test('afterwards: the same workers serve, none exited, nothing logged at ERROR', async () => {
      await assertSameWorkers(s, echoPid);
      assert.deepEqual(errorLines(s.sup.logs()), []);
    });
  });
}

describe('reject logging (docs/protocol.md "How the worker answers a bad request": warn, rate-limited, peer and first bytes hex-escaped)', { timeout: 30_000 }, () => {
  let s: Served;
  before(async () => {
    s = await serve({ app: 'life-echo.cjs', kind: 'tcp', workers: 1 });
  });
  after(async () => {
    await s?.cleanup();
  });

  test('a rejected request is logged at WARN with the peer and its first bytes escaped', async () => {
    const since = s.sup.logs().length;
    assertRejected(await exchange(s.target, [Buffer.from('\x00MARKER-7f3a\xff', 'latin1')]), 400);
    const line = await waitFor('the WARN line', () => s.sup.logs().slice(since).split('\n').find((l) => l.includes('MARKER-7f3a')), {
      timeoutMs: 3000,
      intervalMs: 20,
    });
    assert.match(line, /^\S+ WARN\b/, line);
    assert.ok(line.includes('127.0.0.1'), `no peer in ${line}`);
    assert.ok(/\\x00MARKER-7f3a\\xff/i.test(line), `first bytes not hex-escaped in ${line}`);
  });

  test('a flood of bad requests is answered but not logged line for line', async () => {
    const since = s.sup.logs().length;
    const flood = 150;
    for (let i = 0; i < flood; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => exchange(s.target, ['x'])));
      for (const o of batch) assertRejected(o, 400);
    }
    const warns = s.sup
      .logs()
      .slice(since)
      .split('\n')
      .filter((l) => /^\S+ WARN\b/.test(l));
    assert.ok(warns.length < flood / 3, `${warns.length} WARN lines for ${flood} bad requests: not rate-limited`);
  });
});
