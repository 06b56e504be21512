// Every kind of app the worker loads answers over real SCGI, and the frameworks (Express, Koa, Fastify, Hono)
// see method, url, headers, body, the client address (REMOTE_ADDR) and https (HTTPS=on) as under node:http.
// Starts the real worker entry (worker-harness.ts); each test talks to its own worker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { APPS } from '../helpers/paths.js';
import { encodeRequest, nginxLikeParams } from '../../src/protocol/request-encoder.js';
import { connectTo, header, headerValues, show } from '../helpers/scgi-raw.js';
import { call, pattern, sendExpectingReset, sha256, startWorker } from './worker-harness.js';

test('every export kind answers: raw handler, ESM default, Promise export, top-level await', async (t) => {
  const expectations: Array<[string, string]> = [
    ['hello.cjs', 'Hello, world!\n'],
    ['esm-handler.mjs', 'esm GET /x?y=1\n'],
    ['async-export.cjs', 'async\n'],
    ['tla.mjs', 'tla\n'],
    ['koa-callback.cjs', 'koa callback /x\n'],
  ];
  for (const [file, body] of expectations) {
    const w = await startWorker(t, join(APPS, file));
    const { outcome, res } = await call(w, 'GET', '/x?y=1');
    assert.equal(res.status, 200, file);
    assert.equal(res.body.toString(), body, file);
    assert.equal(outcome.ending, 'fin', file);
  }
});

test('hello.cjs: exactly one CGI head with Status, Content-Length 14, no HTTP/1.1 line, no chunking, no Date', async (t) => {
  const w = await startWorker(t, join(APPS, 'hello.cjs'));
  const { res } = await call(w, 'GET', '/');
  assert.equal(res.head, 'Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\n');
  assert.equal(res.body.toString(), 'Hello, world!\n');
});

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  ip: string | null;
  protocol: string;
  bodyLength: number;
  bodySha256: string;
  body: string | null;
}

const frameworks: Array<[file: string, https: string]> = [
  ['express.cjs', 'https'],
  ['koa.cjs', 'https'],
  ['fastify.cjs', 'https'],
  ['hono.mjs', 'https:'],
];

for (const [file, httpsProtocol] of frameworks) {
  test(`${file}: method, url, headers, body, client address and scheme reach the app`, async (t) => {
    const w = await startWorker(t, join(APPS, file));

    const get = await call(w, 'GET', '/echo?x=1&y=%C3%A9', { headers: [['X-Custom', 'one'], ['Cookie', 'a=1']] });
    assert.equal(get.res.status, 200, get.res.body.toString());
    assert.match(header(get.res, 'content-type') ?? '', /application\/json/);
    const g = JSON.parse(get.res.body.toString()) as Echo;
    assert.equal(g.method, 'GET');
    assert.ok(g.url === '/echo?x=1&y=%C3%A9' || g.url === 'http://example.test/echo?x=1&y=%C3%A9', g.url);
    assert.equal(g.headers['x-custom'], 'one');
    assert.equal(g.headers.cookie, 'a=1');
    assert.equal(g.headers.host, 'example.test');
    assert.equal(g.ip, '10.1.2.3');
    assert.equal(g.protocol.replace(':', ''), 'http');
    assert.equal(g.bodyLength, 0);

    const text = 'name=value&utf8=héllo';
    const post = await call(w, 'POST', '/echo', { body: text, headers: [['Content-Type', 'application/x-www-form-urlencoded']] });
    assert.equal(post.res.status, 200, post.res.body.toString());
    const p = JSON.parse(post.res.body.toString()) as Echo;
    assert.equal(p.method, 'POST');
    assert.equal(p.body, text);
    assert.equal(p.bodyLength, Buffer.byteLength(text));
    assert.equal(p.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(p.headers['content-length'], String(Buffer.byteLength(text)));

    const secure = await call(w, 'GET', '/echo', { https: true });
    assert.equal((JSON.parse(secure.res.body.toString()) as Echo).protocol, httpsProtocol);

    const big = pattern(1024 * 1024);
    const large = await call(w, 'PUT', '/echo', { body: big, headers: [['Content-Type', 'application/octet-stream']] });
    const l = JSON.parse(large.res.body.toString()) as Echo;
    assert.equal(l.bodyLength, big.length);
    assert.equal(l.bodySha256, sha256(big));
  });
}

test('express.cjs: redirects, cookies, UTF-8, 5 MiB, streamed body, HEAD, 204, 304, route errors', async (t) => {
  const w = await startWorker(t, join(APPS, 'express.cjs'));

  const redirect = await call(w, 'GET', '/redirect');
  assert.equal(redirect.res.status, 302);
  assert.equal(redirect.res.reason, 'Found');
  assert.equal(header(redirect.res, 'location'), '/text');

  const cookies = await call(w, 'GET', '/cookies');
  assert.deepEqual(headerValues(cookies.res, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);

  const text = await call(w, 'GET', '/text');
  assert.equal(text.res.body.toString('utf8'), 'héllo wörld ✓\n');
  assert.equal(header(text.res, 'content-length'), String(Buffer.byteLength('héllo wörld ✓\n')));

  const big = await call(w, 'GET', '/big');
  assert.equal(big.res.body.length, 5 * 1024 * 1024);
  assert.equal(sha256(big.res.body), sha256(pattern(5 * 1024 * 1024)));
  assert.equal(header(big.res, 'content-length'), String(5 * 1024 * 1024));

  const stream = await call(w, 'GET', '/stream?chunks=4&delayMs=30');
  assert.equal(stream.res.body.toString(), 'chunk 0\nchunk 1\nchunk 2\nchunk 3\n');
  assert.equal(header(stream.res, 'content-length'), undefined);
  assert.equal(header(stream.res, 'transfer-encoding'), undefined);
  assert.equal(stream.outcome.ending, 'fin');

  const head = await call(w, 'HEAD', '/text');
  assert.equal(head.res.status, 200);
  assert.equal(head.res.body.length, 0);

  const noContent = await call(w, 'GET', '/status/204');
  assert.equal(noContent.res.status, 204);
  assert.equal(noContent.res.body.length, 0);

  const etag = await call(w, 'GET', '/etag');
  const notModified = await call(w, 'GET', '/etag', { headers: [['If-None-Match', header(etag.res, 'etag')!]] });
  assert.equal(notModified.res.status, 304);
  assert.equal(notModified.res.body.length, 0);

  const error = await call(w, 'GET', '/error');
  assert.equal(error.res.status, 500);
  const after = await call(w, 'GET', '/text');
  assert.equal(after.res.status, 200);
});

test('hono.mjs: Content-Length for complete bodies, 5 MiB, close-delimited stream, two Set-Cookie, 204, errors', async (t) => {
  const w = await startWorker(t, join(APPS, 'hono.mjs'));

  const text = await call(w, 'GET', '/text');
  assert.equal(text.res.body.toString(), 'hono\n');
  assert.equal(header(text.res, 'content-length'), '5');

  const big = await call(w, 'GET', '/big');
  assert.equal(big.res.body.length, 5 * 1024 * 1024);
  assert.equal(sha256(big.res.body), sha256(pattern(5 * 1024 * 1024)));

  const stream = await call(w, 'GET', '/stream?chunks=3&delayMs=30');
  assert.equal(stream.res.body.toString(), 'chunk 0\nchunk 1\nchunk 2\n');
  assert.equal(header(stream.res, 'content-length'), undefined);
  assert.equal(stream.outcome.ending, 'fin');

  const cookies = await call(w, 'GET', '/cookies');
  assert.deepEqual(headerValues(cookies.res, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);

  const noContent = await call(w, 'GET', '/status/204');
  assert.equal(noContent.res.status, 204);
  assert.equal(noContent.res.body.length, 0);

  const head = await call(w, 'HEAD', '/text');
  assert.equal(head.res.status, 200);
  assert.equal(head.res.body.length, 0);

  const error = await call(w, 'GET', '/error');
  assert.equal(error.res.status, 500);
  assert.equal((await call(w, 'GET', '/text')).res.status, 200);

  // A body stream that fails after the head went out: RST, so the truncation is visible (case 33).
  const failed = await sendExpectingReset(w, encodeRequest(nginxLikeParams({ method: 'GET', uri: '/stream-fail' })));
  assert.ok(failed.reset, show(failed.outcome));
  await w.waitLog(/fixture: the body stream failed/);

  // A method the WHATWG Request refuses: a 400 from the worker, logged (rate-limited), not an app error.
  const connect = await call(w, 'CONNECT', '/text');
  assert.equal(connect.res.status, 400);
  await w.waitLog(/request refused \(400\): not a valid fetch Request/);
});

test('hono.mjs: the Request signal aborts when the front end goes away, and the worker keeps serving', async (t) => {
  const w = await startWorker(t, join(APPS, 'hono.mjs'));
  const socket = connectTo(w.target);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.write(encodeRequest(nginxLikeParams({ method: 'GET', uri: '/hang?id=h1' })), () => resolve());
  });
  const registered = async (): Promise<unknown> => JSON.parse((await call(w, 'GET', '/events?id=h1')).res.body.toString());
  for (let i = 0; i < 200 && (await registered()) === null; i++) await new Promise((r) => setTimeout(r, 25));
  socket.destroy();
  let events: unknown = null;
  for (let i = 0; i < 200; i++) {
    events = await registered();
    if (Array.isArray(events) && events.includes('abort')) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.deepEqual(events, ['abort']);
  assert.equal((await call(w, 'GET', '/text')).res.body.toString(), 'hono\n');
});

test('async-fastify.cjs: a Promise of a Fastify instance is awaited, readied and routed', async (t) => {
  const w = await startWorker(t, join(APPS, 'async-fastify.cjs'));
  assert.equal((await call(w, 'GET', '/text')).res.body.toString(), 'async fastify\n');
  await w.waitLog(/loaded .* kind=a Fastify app/);
});

test('koa.cjs and fastify.cjs: plain text routes and framework 404s', async (t) => {
  const koa = await startWorker(t, join(APPS, 'koa.cjs'));
  assert.equal((await call(koa, 'GET', '/text')).res.body.toString(), 'koa\n');
  assert.equal((await call(koa, 'GET', '/nope')).res.status, 404);
  assert.equal((await call(koa, 'GET', '/error')).res.status, 500);
  const fastify = await startWorker(t, join(APPS, 'fastify.cjs'));
  assert.equal((await call(fastify, 'GET', '/text')).res.body.toString(), 'fastify\n');
  assert.equal((await call(fastify, 'GET', '/nope')).res.status, 404);
});
