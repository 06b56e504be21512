// How the worker's connection handler (serve.ts) answers the protocol layer's verdicts over real sockets:
// deadlines (cases 13-14), errors answered then drained (cases 18, 25), silent closes (cases 11-12), bytes after
// the body (case 24), the missing-SCGI warning (case 19). The full §5 list is test/integration/hostile*.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeRequest, nginxLikeParams } from '../../src/protocol/request-encoder.js';
import { APPS } from '../helpers/paths.js';
import { exchange, parseResponse, show } from '../helpers/scgi-raw.js';
import { call, startWorker } from './worker-harness.js';

const RAW = join(APPS, 'raw.cjs');

test('header deadline is total, not per byte: a trickled header gets 408, an idle connection a silent close', async (t) => {
  const w = await startWorker(t, RAW, { timeouts: { headerTimeoutMs: 400 } });
  const full = encodeRequest(nginxLikeParams({ method: 'GET', uri: '/text' }));
  // One byte every 100 ms would take far longer than 400 ms.
  const slow = await exchange(w.target, [{ trickle: full, chunkBytes: 1, everyMs: 100 }], { timeoutMs: 5000 });
  assert.equal(slow.ending, 'fin', show(slow));
  assert.equal(parseResponse(slow.data).status, 408);
  assert.ok(slow.endMs >= 350 && slow.endMs < 4000, `ended after ${slow.endMs} ms`); // upper bound: loaded CI machines

  const idle = await exchange(w.target, [], { timeoutMs: 5000 });
  assert.equal(idle.ending, 'fin', show(idle));
  assert.equal(idle.data.length, 0);
  assert.ok(idle.endMs >= 350 && idle.endMs < 4000, `ended after ${idle.endMs} ms`);
  assert.equal((await call(w, 'GET', '/text')).res.status, 200);
});

test('body idle timeout: a body that stops arriving gets 408 and the app sees the request aborted', async (t) => {
  const w = await startWorker(t, RAW, { timeouts: { bodyIdleTimeoutMs: 400 } });
  const full = encodeRequest(nginxLikeParams({ method: 'POST', uri: '/hang?id=idle' }), Buffer.alloc(100, 0x62));
  const o = await exchange(w.target, [full.subarray(0, full.length - 50)], { timeoutMs: 5000 });
  assert.equal(parseResponse(o.data).status, 408, show(o));
  assert.ok(o.endMs >= 350 && o.endMs < 4000, `ended after ${o.endMs} ms`);
  const events = JSON.parse((await call(w, 'GET', '/events?id=idle')).res.body.toString()) as string[];
  assert.ok(events.includes('req-aborted'), events.join());
});

test('a bad netstring gets 400 in one write, a warning with the first bytes, and the worker keeps serving', async (t) => {
  const w = await startWorker(t, RAW);
  const o = await exchange(w.target, ['7a:CONTENT_LENGTH\0'], { timeoutMs: 3000 });
  assert.equal(o.ending, 'fin', show(o));
  assert.equal(parseResponse(o.data).status, 400);
  await w.waitLog(/WARN .*bad SCGI request: .* bytes=7a:CONTENT_LENGTH\\x00/);
  assert.equal((await call(w, 'GET', '/text')).res.status, 200);
});

test('413 before the body is read, then the body is drained so the answer is not reset (cases 18, 25)', async (t) => {
  const w = await startWorker(t, RAW, { limits: { maxBodyBytes: 1000 } });
  const bytes = encodeRequest(nginxLikeParams({ method: 'POST', uri: '/echo' }), Buffer.alloc(200_000, 0x63));
  const o = await exchange(w.target, [bytes], { lingerMs: 300 });
  assert.equal(o.ending, 'fin', show(o));
  assert.equal(o.errorAfterFin, null);
  assert.equal(parseResponse(o.data).status, 413);
});

test('a connection closed without a byte is closed silently, and not logged above debug (case 12)', async (t) => {
  const w = await startWorker(t, RAW, { logLevel: 'info' });
  const o = await exchange(w.target, ['fin'], { timeoutMs: 3000 });
  assert.equal(o.ending, 'fin');
  assert.equal(o.data.length, 0);
  assert.equal((await call(w, 'GET', '/text')).res.status, 200);
  assert.doesNotMatch(w.stderr(), /WARN|ERROR/);
});

test('bytes after CONTENT_LENGTH are never a second request (case 24)', async (t) => {
  const w = await startWorker(t, RAW);
  const first = encodeRequest(nginxLikeParams({ method: 'POST', uri: '/echo' }), Buffer.from('hello'));
  const second = encodeRequest(nginxLikeParams({ method: 'GET', uri: '/text' }));
  const o = await exchange(w.target, [Buffer.concat([first, second])], { lingerMs: 200 });
  const res = parseResponse(o.data);
  assert.equal(res.status, 200);
  assert.equal((JSON.parse(res.body.toString()) as { body: string }).body, 'hello');
  assert.ok(!res.body.toString().includes('Status:'), 'a second response was written');
  assert.equal(o.errorAfterFin, null);
});

test('no SCGI=1 (nginx without scgi_params): served, and warned once per worker (case 19)', async (t) => {
  const w = await startWorker(t, RAW);
  const params = nginxLikeParams({ method: 'GET', uri: '/text' }).filter(([n]) => n !== 'SCGI');
  for (let i = 0; i < 3; i++) {
    const o = await exchange(w.target, [encodeRequest(params, Buffer.alloc(0), { addScgi: false })]);
    assert.equal(parseResponse(o.data).status, 200, show(o));
  }
  assert.equal(w.stderr().match(/include scgi_params/g)?.length, 1, w.stderr());
});

test('absolute-form REQUEST_URI and raw header bytes reach the app unchanged (case 22)', async (t) => {
  const w = await startWorker(t, RAW);
  const { res } = await call(w, 'GET', '/echo', { extraParams: [['HTTP_X_UTF8', 'caf\xc3\xa9']] });
  const echo = JSON.parse(res.body.toString()) as { headers: Record<string, string> };
  assert.equal(echo.headers['x-utf8'], 'caf\xc3\xa9'); // latin1, byte for byte, as node:http shows raw bytes
  const abs = await exchange(w.target, [encodeRequest([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', 'http://evil.example/echo?x=1']])]);
  const r = parseResponse(abs.data);
  assert.equal(r.status, 200, show(abs));
  assert.equal((JSON.parse(r.body.toString()) as { url: string }).url, 'http://evil.example/echo?x=1');
});
