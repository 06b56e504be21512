// The node:http surface the worker gives a raw (req, res) app (fixtures raw.cjs, throws-in-handler.cjs), over real
// SCGI connections to the real worker entry: body backpressure, big and streamed responses, bodiless responses,
// hop-by-hop stripping, header splitting, Content-Length enforcement, disconnects, app failures (docs/protocol.md C, D).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeRequest, nginxLikeParams } from '../../src/protocol/request-encoder.js';
import { APPS } from '../helpers/paths.js';
import { connectTo, exchange, header, parseResponse, show } from '../helpers/scgi-raw.js';
import { call, pattern, sendExpectingReset, sha256, startWorker, type WorkerUnderTest } from './worker-harness.js';

const RAW = join(APPS, 'raw.cjs');

async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a 1 MiB POST reaches the app intact, and the worker holds back while the app does not read (backpressure)', async (t) => {
  const w = await startWorker(t, RAW);
  const body = pattern(1024 * 1024);
  const { res } = await call(w, 'POST', '/slow-read?pauseMs=400', { body });
  assert.equal(res.status, 200);
  const r = JSON.parse(res.body.toString()) as { bodyLength: number; bodySha256: string; bufferedWhilePaused: number };
  assert.equal(r.bodyLength, body.length);
  assert.equal(r.bodySha256, sha256(body));
  // Without backpressure all 1 MiB would sit in req; with it, about one highWaterMark plus a socket read.
  assert.ok(r.bufferedWhilePaused < 512 * 1024, `buffered ${r.bufferedWhilePaused} bytes while the app was not reading`);
});

test('a 5 MiB response written with backpressure arrives whole, with its Content-Length', async (t) => {
  const w = await startWorker(t, RAW);
  const size = 5 * 1024 * 1024;
  const { res, outcome } = await call(w, 'GET', `/big?size=${size}`);
  assert.equal(header(res, 'content-length'), String(size));
  assert.equal(res.body.length, size);
  assert.equal(sha256(res.body), sha256(pattern(size)));
  assert.equal(outcome.ending, 'fin');
});

test('a streamed response of unknown length is close-delimited: no Content-Length, no chunk framing', async (t) => {
  const w = await startWorker(t, RAW);
  const { res, outcome } = await call(w, 'GET', '/stream?chunks=5&delayMs=20');
  assert.equal(res.body.toString(), 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n');
  assert.equal(header(res, 'content-length'), undefined);
  assert.equal(header(res, 'transfer-encoding'), undefined);
  assert.equal(outcome.ending, 'fin');
});

test('a stream piped into res arrives whole; flushHeaders sends the head before the body', async (t) => {
  const w = await startWorker(t, RAW);
  const piped = await call(w, 'GET', '/pipe');
  assert.equal(piped.res.body.toString(), readFileSync(RAW, 'utf8'));
  // flushHeaders: the head is on the wire well before the body, which comes 1.5 s later.
  const socket = connectTo(w.target);
  const started = Date.now();
  const headAt = await new Promise<number>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('data', (d: Buffer) => {
      assert.ok(d.toString('latin1').startsWith('Status: 200 OK\r\n'), d.toString('latin1'));
      resolve(Date.now() - started);
    });
    socket.write(encodeRequest(nginxLikeParams({ method: 'GET', uri: '/flush?delayMs=1500' })));
  });
  socket.destroy();
  assert.ok(headAt < 1200, `head after ${headAt} ms`);
});

test('req.headers and req.headersDistinct are what node:http builds from rawHeaders, repeated names merged', async (t) => {
  const w = await startWorker(t, RAW);
  const { res } = await call(w, 'GET', '/echo', {
    headers: [['X-A', '1'], ['Cookie', 'a=1']],
    extraParams: [['HTTP_X-A', '2'], ['HTTP_COOKIE', 'b=2'], ['HTTP_HOST', 'second.test']],
  });
  const echo = JSON.parse(res.body.toString()) as {
    headers: Record<string, string>;
    headersDistinct: Record<string, string[]>;
    rawHeaders: string[];
  };
  // HTTP_COOKIE and HTTP_HOST repeated: the parser merges them (case 20); HTTP_X_A and HTTP_X-A are two names
  // for one header, merged by node:http's own rules.
  assert.equal(echo.headers['x-a'], '1, 2');
  assert.equal(echo.headers.cookie, 'a=1; b=2');
  assert.deepEqual(echo.headersDistinct['x-a'], ['1', '2']);
  assert.deepEqual(echo.headersDistinct.cookie, ['a=1; b=2']);
  assert.deepEqual(echo.headersDistinct.host, ['example.test, second.test']);
  assert.equal(echo.rawHeaders.length % 2, 0);
});

test('HEAD, 204 and 304 send the head only (case 35)', async (t) => {
  const w = await startWorker(t, RAW);
  const head = await call(w, 'HEAD', '/text');
  assert.equal(head.res.status, 200);
  assert.equal(header(head.res, 'content-length'), '13');
  assert.equal(head.res.body.length, 0);
  for (const code of [204, 304]) {
    const { res } = await call(w, 'GET', `/status?code=${code}`);
    assert.equal(res.status, code);
    assert.equal(header(res, 'x-probe'), 'status');
    assert.equal(res.body.length, 0, `${code} carried a body`);
  }
  const get = await call(w, 'GET', '/text');
  assert.equal(get.res.body.toString(), 'body for get\n');
});

test('hop-by-hop headers and Transfer-Encoding never reach the wire, and the body is never chunked (case 30)', async (t) => {
  const w = await startWorker(t, RAW);
  const { res } = await call(w, 'GET', '/hop');
  for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection']) {
    assert.equal(header(res, name), undefined, `${name} was sent: ${res.head}`);
  }
  assert.equal(header(res, 'x-kept'), 'yes');
  assert.equal(res.body.toString(), 'abc');
});

test('response splitting attempts never reach the wire (case 32)', async (t) => {
  const w = await startWorker(t, RAW);
  for (const path of ['/split-header', '/split-status']) {
    const { res } = await call(w, 'GET', path);
    assert.equal(res.status, 500, `${path}: ${res.head}`);
    assert.ok(!res.head.includes('Injected'), res.head);
  }
  const { res } = await call(w, 'GET', '/split-setheader');
  assert.equal(res.body.toString(), 'rejected ERR_INVALID_CHAR\n');
  assert.equal((await call(w, 'GET', '/text')).res.status, 200);
});

test('Content-Length: more bytes than declared are truncated and logged; fewer end in RST (cases 31, 33)', async (t) => {
  const w = await startWorker(t, RAW);
  const long = await call(w, 'GET', '/cl-long');
  assert.equal(header(long.res, 'content-length'), '10');
  assert.equal(long.res.body.toString(), '0123456789');
  assert.equal(long.outcome.ending, 'fin');
  await w.waitLog(/app wrote more than its declared Content-Length/);

  // The probe itself: a complete response is not taken for a reset.
  const clean = await sendExpectingReset(w, encodeRequest(nginxLikeParams({ method: 'GET', uri: '/text' })));
  assert.equal(clean.reset, false, show(clean.outcome));

  const params = nginxLikeParams({ method: 'GET', uri: '/cl-short' });
  const short = await sendExpectingReset(w, encodeRequest(params));
  assert.ok(short.reset, show(short.outcome));
  // (an RST may discard data the client had not read yet, so the head is not always seen)
  assert.ok(short.outcome.data.length === 0 || short.outcome.data.toString('latin1').startsWith('Status: 200 OK\r\n'), show(short.outcome));
  await w.waitLog(/before its declared Content-Length; connection reset/);
});

/** Sends a request to /hang, then the front end goes away; returns the events the app saw. */
async function disconnectDuring(w: WorkerUnderTest, id: string, method: string, bytes: Buffer): Promise<string[]> {
  const socket = connectTo(w.target);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.write(bytes, () => resolve());
  });
  // The app registered its listeners once /events knows the id.
  await poll(`${method} /hang registered`, 10_000, async () => {
    const { res } = await call(w, 'GET', `/events?id=${id}`);
    return JSON.parse(res.body.toString()) === null ? undefined : true;
  });
  socket.destroy();
  return poll(`${method} /hang events`, 10_000, async () => {
    const { res } = await call(w, 'GET', `/events?id=${id}`);
    const events = JSON.parse(res.body.toString()) as string[];
    return events.includes('res-close') && events.includes('req-close') ? events : undefined;
  });
}

test('a front end that disconnects mid-request aborts req and res as node:http does', async (t) => {
  const w = await startWorker(t, RAW);
  // Whole request in, then the front end leaves: res 'close', req 'close'.
  const get = await disconnectDuring(w, 'g1', 'GET', encodeRequest(nginxLikeParams({ method: 'GET', uri: '/hang?id=g1' })));
  assert.ok(get.includes('res-close') && get.includes('req-close'), get.join());
  // Mid-body (10 of 100 bytes): the request is incomplete, so 'aborted' and an ECONNRESET error too.
  const full = encodeRequest(nginxLikeParams({ method: 'POST', uri: '/hang?id=p1' }), Buffer.alloc(100, 0x61));
  const post = await disconnectDuring(w, 'p1', 'POST', full.subarray(0, full.length - 90));
  assert.ok(post.includes('req-aborted'), post.join());
  assert.ok(post.includes('req-error:ECONNRESET'), post.join());
  assert.ok(post.includes('res-close'), post.join());
  assert.equal(w.child.exitCode, null, 'the worker must survive');
});

test('an app that answers before reading a 3 MiB body: the body is read, FIN after the response, no RST (case 25)', async (t) => {
  // 3 MiB is over the 1 MiB drain cap: the request's own body is not "extra" bytes and is read whole.
  const w = await startWorker(t, RAW);
  const bytes = encodeRequest(nginxLikeParams({ method: 'POST', uri: '/early' }), pattern(3 * 1024 * 1024));
  const o = await exchange(w.target, [bytes], { lingerMs: 300 });
  assert.equal(o.ending, 'fin', show(o));
  assert.equal(o.errorAfterFin, null, 'the worker reset the connection after its answer');
  const res = parseResponse(o.data);
  assert.equal(res.status, 413);
  assert.equal(res.body.toString(), 'too big\n');
});

test('Expect: 100-continue is the front end\'s business: hidden from the app, writeContinue writes nothing (case 22)', async (t) => {
  const w = await startWorker(t, RAW);
  const { res } = await call(w, 'POST', '/continue', { body: 'x', headers: [['Expect', '100-continue']] });
  assert.ok(res.head.startsWith('Status: 200 OK\r\n'), res.head);
  assert.ok(!res.body.toString('latin1').includes('100 Continue'));
  assert.deepEqual(JSON.parse(res.body.toString()), { expect: null });
});

test('res.destroy() mid-response (a failed stream.pipeline) resets; before any byte it is a 500 (cases 33-34)', async (t) => {
  const w = await startWorker(t, RAW);
  const failed = await sendExpectingReset(w, encodeRequest(nginxLikeParams({ method: 'GET', uri: '/pipeline-fail' })));
  assert.ok(failed.reset, show(failed.outcome));
  await w.waitLog(/fixture: the source failed mid-body/);
  const early = await call(w, 'GET', '/destroy-early');
  assert.equal(early.res.status, 500);
  assert.equal(early.outcome.ending, 'fin');
  assert.equal((await call(w, 'GET', '/text')).res.status, 200);
});

test('the app never sees the worker options in its environment', async (t) => {
  const w = await startWorker(t, RAW);
  const { res } = await call(w, 'GET', '/env?name=SCGI_SUPERVISE_WORKER');
  assert.deepEqual(JSON.parse(res.body.toString()), { value: null });
});

test('app failures: throw or reject before the head → 500 and the worker keeps serving; after the head → RST', async (t) => {
  const w = await startWorker(t, join(APPS, 'throws-in-handler.cjs'));
  for (const path of ['/sync', '/reject']) {
    const { res, outcome } = await call(w, 'GET', path);
    assert.equal(res.status, 500, path);
    assert.equal(outcome.ending, 'fin', path);
  }
  await w.waitLog(/fixture: sync throw in handler\n\s+at /); // the app's stack reaches the log
  await w.waitLog(/fixture: rejected in handler/);
  const after = await sendExpectingReset(w, encodeRequest(nginxLikeParams({ method: 'GET', uri: '/after-head' })));
  assert.ok(after.reset, show(after.outcome));
  assert.ok(after.outcome.data.length === 0 || after.outcome.data.toString('latin1').startsWith('Status: 200'), show(after.outcome));
  const afterEnd = await sendExpectingReset(w, encodeRequest(nginxLikeParams({ method: 'GET', uri: '/after-end' })));
  assert.equal(afterEnd.reset, false, show(afterEnd.outcome));
  assert.equal(parseResponse(afterEnd.outcome.data).body.toString(), 'complete\n');
  await w.waitLog(/fixture: throw after res.end\(\)/);
  const ok = await call(w, 'GET', '/fine');
  assert.equal(ok.res.body.toString(), 'ok\n');
  assert.equal(w.child.exitCode, null);
});

test('over a Unix socket: requests are served, and a failure after the head closes without crashing the worker', async (t) => {
  const w = await startWorker(t, RAW, { unix: true });
  assert.equal(w.target.kind, 'unix');
  const { res } = await call(w, 'POST', '/echo', { body: 'over unix' });
  assert.equal((JSON.parse(res.body.toString()) as { body: string }).body, 'over unix');
  // No RST on a Unix socket (resetAndDestroy throws there): the worker falls back to a close.
  const short = await exchange(w.target, [encodeRequest(nginxLikeParams({ method: 'GET', uri: '/cl-short' }))]);
  assert.notEqual(short.ending, 'timeout', show(short));
  assert.equal((await call(w, 'GET', '/text')).res.status, 200);
  assert.equal(w.child.exitCode, null);
});
