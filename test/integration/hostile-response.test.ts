// Response writing (docs/protocol.md D, cases 28-35) against the built supervisor, read byte-exact from a raw socket, on
// 127.0.0.1 and on a unix socket: life-replies.cjs answers in the awkward ways an app does (custom statuses, its own
// Transfer-Encoding and hop-by-hop headers, CR/LF in values, a wrong Content-Length, failures before and after the
// head, bodies on HEAD/204/304) and the worker must still emit a CGI response the front ends read correctly.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertSameWorkers,
  exchange,
  header,
  headerValues,
  parseResponse,
  request,
  serve,
  show,
  type CgiResponse,
  type Outcome,
  type Served,
  type Target,
} from '../helpers/scgi-raw.js';

/** A complete response ended by FIN, parsed strictly (one `Status: NNN Reason` line, CRLF, token names). */
function answered(o: Outcome): CgiResponse {
  assert.equal(o.ending, 'fin', show(o));
  return parseResponse(o.data);
}

/**
 * An aborted response (case 33): RST over TCP. A unix socket has no RST (Node's resetAndDestroy() is TCP-only), so
 * there the close itself is all a worker can do; the Content-Length, when there is one, makes the truncation visible.
 */
function assertAborted(kind: 'tcp' | 'unix', o: Outcome): void {
  if (kind === 'tcp') {
    assert.equal(o.ending, 'rst', `expected an RST: ${show(o)}`);
    return;
  }
  assert.ok(o.ending === 'rst' || o.ending === 'fin', show(o));
  const res = parseResponse(o.data);
  const cl = headerValues(res, 'content-length');
  if (cl.length > 0) assert.ok(res.body.length < Number(cl[0]), `a complete-looking response: ${show(o)}`);
}

async function get(target: Target, path: string, method = 'GET'): Promise<Outcome> {
  return exchange(target, [request(method, path)], { timeoutMs: 4000 });
}

async function pidOf(target: Target): Promise<number> {
  const res = answered(await get(target, '/pid'));
  assert.equal(res.status, 200);
  return Number(res.body.toString());
}

for (const kind of ['tcp', 'unix'] as const) {
  describe(`response writing over ${kind} (docs/protocol.md cases 28-35)`, { timeout: 60_000 }, () => {
    let s: Served;
    before(async () => {
      s = await serve({ app: 'life-replies.cjs', kind });
    });
    after(async () => {
      await s?.cleanup();
    });

    test('case 28: one CGI Status line with a reason phrase, never HTTP/1.x; custom reasons and odd codes', async () => {
      const nf = await get(s.target, '/status-404');
      assert.ok(nf.data.toString('latin1').startsWith('Status: 404 Not Found\r\n'), show(nf));
      assert.equal(answered(nf).body.toString(), 'not here');
      const odd = answered(await get(s.target, '/status-299'));
      assert.equal(odd.status, 299);
      assert.ok(odd.reason.trim().length > 0, 'a reason phrase is always present');
      const custom = answered(await get(s.target, '/reason'));
      assert.equal(custom.status, 200);
      assert.equal(custom.reason, 'Fine Thanks');
      assert.ok(!/^HTTP\//m.test(nf.data.toString('latin1')), show(nf));
    });

    test('case 29: a redirect carries an explicit Status: 302 and its Location', async () => {
      const r = answered(await get(s.target, '/redirect'));
      assert.equal(r.status, 302);
      assert.equal(r.reason, 'Found');
      assert.equal(header(r, 'location'), '/target');
      const bare = await get(s.target, '/location-only');
      assert.ok(bare.data.toString('latin1').startsWith('Status: '), show(bare));
    });

    test('case 30: no Transfer-Encoding even when the app sets it; the body is not chunk-framed', async () => {
      const te = answered(await get(s.target, '/te'));
      assert.deepEqual(headerValues(te, 'transfer-encoding'), []);
      assert.equal(te.body.toString(), 'hello world');
      const stream = answered(await get(s.target, '/stream'));
      assert.deepEqual(headerValues(stream, 'transfer-encoding'), []);
      assert.equal(stream.body.toString(), 'part1,part2,part3');
    });

    test('case 30: hop-by-hop headers the app sets are stripped; ordinary ones kept', async () => {
      const r = answered(await get(s.target, '/hop'));
      for (const name of ['connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-connection', 'transfer-encoding']) {
        assert.deepEqual(headerValues(r, name), [], `${name} leaked: ${r.head}`);
      }
      assert.equal(header(r, 'x-kept'), 'yes');
      assert.equal(r.body.toString(), 'hop');
    });

    test('case 31: at most one exact Content-Length: an app writing more than it declared is truncated', async () => {
      const o = await get(s.target, '/cl-over');
      const r = answered(o);
      assert.deepEqual(headerValues(r, 'content-length'), ['10'], r.head);
      assert.equal(r.body.toString(), '0123456789', show(o));
    });

    test('cases 31/33: an app writing less than it declared is aborted with RST (truncation visible)', async () => {
      const o = await get(s.target, '/cl-under');
      assertAborted(kind, o);
      assert.ok(o.data.toString('latin1').startsWith('Status: 200 '), show(o));
    });

    test('case 32: CR/LF in a header value or a bad name never splits or corrupts the response', async () => {
      for (const path of ['/inject-set', '/inject-writehead']) {
        const o = await get(s.target, path);
        const r = answered(o); // throws on a stray CR/LF or a non-token header name
        for (const name of ['set-cookie', 'injected', 'x-bad name']) assert.deepEqual(headerValues(r, name), [], `${path}: ${r.head}`);
        assert.ok(!o.data.toString('latin1').includes('smuggled body'), `${path}: ${show(o)}`);
        assert.ok(!/\r\nInjected: 1/i.test(r.head) && !/\r\nSet-Cookie: pwned/i.test(r.head), r.head);
        assert.ok([200, 500].includes(r.status), `${path}: ${r.status}`);
      }
    });

    test('case 33: a failure after the head was sent aborts with RST, with or without Content-Length', async () => {
      for (const path of ['/fail-after-head', '/fail-after-head-nocl']) {
        const o = await get(s.target, path);
        assertAborted(kind, o);
        const text = o.data.toString('latin1');
        assert.ok(text.startsWith('Status: 200 '), `${path}: ${show(o)}`);
        assert.ok(text.endsWith('0123456789'), `${path}: ${show(o)}`);
      }
    });

    test('case 34: a failure before any byte gives a small well-formed 500, not an empty close', async () => {
      for (const path of ['/fail-before-head', '/reject-before-head']) {
        const o = await get(s.target, path);
        const r = answered(o);
        assert.equal(r.status, 500, `${path}: ${show(o)}`);
        assert.ok(r.body.length > 0 && r.body.length < 1024, `${path}: ${show(o)}`);
        const cl = headerValues(r, 'content-length');
        assert.ok(cl.length === 0 || Number(cl[0]) === r.body.length, r.head);
      }
    });

    test('case 35: 204, 304 and HEAD carry no body, and the head still ends with a blank line', async () => {
      for (const [method, path, status] of [['GET', '/204', 204], ['GET', '/304', 304], ['HEAD', '/with-body', 200]] as const) {
        const o = await get(s.target, path, method);
        const r = answered(o);
        assert.equal(r.status, status, show(o));
        assert.ok(r.head.endsWith('\r\n\r\n'));
        assert.equal(r.body.length, 0, `${method} ${path} sent a body: ${show(o)}`);
      }
    });

    test('afterwards: the same workers serve and none exited (app failures never cost a worker)', async () => {
      await assertSameWorkers(s, pidOf);
    });
  });
}
