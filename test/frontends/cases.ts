// The case table shared by the front-end differential tests (nginx/lighttpd/apache.test.ts): each case is one HTTP
// request sent both to diff-express.cjs under node:http and through a front end to the supervisor. Responses are
// compared after compare.ts's normalisation. A front end's documented behaviour that makes a response differ is
// written next to its case in `known` (with the reason and its docs/protocol.md reference) and applied as an explicit edit of the
// expected response, so the case still fails if the difference is anything else.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { FrontEndName } from '../helpers/frontends/front-end.js';
import type { HttpResponse } from '../helpers/frontends/http-client.js';
import { bodyOf, type Comparable } from './compare.js';

export interface Known {
  /** Why the front end makes this differ (cite docs/protocol.md). */
  why: string;
  /** Turns the direct response into what this front end must answer instead. */
  expect?(direct: Comparable): void;
  /** When the front end answers by itself (nothing to compare): assertions on its response instead. */
  instead?(proxied: HttpResponse): void;
}

export interface DiffCase {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string | string[]> | string[];
  body?: Buffer | string;
  /** Extra assertions on the two raw responses (e.g. the direct response really had no Content-Length). */
  check?(direct: HttpResponse, proxied: HttpResponse, via: FrontEndName): void;
  known?: Partial<Record<FrontEndName, Known>>;
  /**
   * node:http itself cannot serve this request (it answers 400), so there is nothing to compare: the direct 400 is
   * asserted, and `check` alone judges the front end's response. Says why.
   */
  directRejects?: string;
}

const MIB = 1024 * 1024;
/** 1 MiB of a fixed pattern, uploaded by the POST case. */
export const UPLOAD = Buffer.alloc(MIB);
for (let i = 0; i < UPLOAD.length; i++) UPLOAD[i] = (i * 7 + (i >> 8)) & 0xff;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Raw UTF-8 bytes on the wire: node:http writes a latin1 string byte for byte. */
const raw = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/** Express's default (weak) ETag of a body: W/"<length in hex>-<first 27 chars of the base64 sha1>". */
const weakEtag = (b: Buffer): string => `W/"${b.length.toString(16)}-${createHash('sha1').update(b).digest('base64').slice(0, 27)}"`;

/** Rewrites a JSON body of the expected response (and the ETag Express derives from it). */
function editJson(c: Comparable, edit: (v: Record<string, unknown>) => void): void {
  assert.ok(c.body.text !== undefined, 'editJson needs a small text body');
  const v = JSON.parse(c.body.text) as Record<string, unknown>;
  edit(v);
  const body = Buffer.from(JSON.stringify(v));
  assert.equal(c.headers.etag, weakEtag(Buffer.from(c.body.text)), 'the ETag is the one Express derives from the body');
  c.body = bodyOf(body);
  c.headers.etag = weakEtag(body);
}

/** The app writes 6 pieces 25 ms apart: the head must arrive well before the end (each write was flushed). */
function assertStreamed(r: HttpResponse, via: string): void {
  const spread = r.timings.totalMs - r.timings.firstByteMs;
  assert.ok(spread >= 80, `${via}: head after ${r.timings.firstByteMs} ms, end after ${r.timings.totalMs} ms: not streamed`);
}

const noContentLength = (r: HttpResponse, what: string): void =>
  assert.equal(r.headers['content-length'], undefined, `${what}: the direct response should be of unknown length`);

export const CASES: DiffCase[] = [
  { name: 'GET text/plain', path: '/text' },
  { name: 'GET an empty 200 body', path: '/empty' },
  { name: 'GET UTF-8 HTML body', path: '/html' },
  { name: 'GET JSON', path: '/json' },
  { name: 'HEAD of a small body: no body, same headers', method: 'HEAD', path: '/text' },
  { name: 'HEAD of the 5 MiB body', method: 'HEAD', path: '/big' },
  {
    name: 'percent-encoded path and query echoed (req.url, req.path, req.params, req.query)',
    path: '/echo/caf%C3%A9/a%20b?x=1&x=2&q=%E2%98%95&plus=a+b&empty=&enc=%3F%26%3D%23&arr[]=1',
  },
  {
    name: 'raw UTF-8 bytes in the path and query',
    path: raw('/echo/café/日本?q=ümlaut'),
    directRejects:
      "node:http's parser refuses bytes >= 0x80 in the request target (400, even with insecureHTTPParser); all three " +
      'front ends pass them raw in REQUEST_URI, and the worker must keep them as bytes (docs/protocol.md case 22): req.url ' +
      'holds them one char per byte (latin1), as node:http does for header values',
    check: (_d, p) => {
      assert.equal(p.status, 200, p.body.toString());
      const v = JSON.parse(p.body.toString()) as Record<string, unknown>;
      assert.equal(v.url, raw('/echo/café/日本?q=ümlaut'));
      assert.deepEqual(v.query, { q: raw('ümlaut') });
    },
  },
  {
    name: 'NUL and invalid percent-escapes in the query',
    path: '/echo/q?nul=a%00b&bad=%ZZ&pct=100%25',
    known: {
      lighttpd: {
        why: 'lighttpd rejects an encoded control character (%00) in the URL with its own 400 (server.http-parseopts "url-ctrls-reject", on by default; docs/protocol.md "Front ends, in brief")',
        instead: (p) => assert.equal(p.status, 400),
      },
    },
  },
  { name: 'a 6000-byte request header', path: '/echo/big-header', headers: { 'x-custom': 'v'.repeat(6000) } },
  { name: 'HEAD of a streamed response', method: 'HEAD', path: '/stream' },
  { name: 'HEAD of a 5 MiB streamed response', method: 'HEAD', path: '/big-stream' },
  { name: 'HEAD of a 204', method: 'HEAD', path: '/nocontent' },
  { name: 'long query string (4 KB)', path: `/echo?long=${'abc%20'.repeat(700)}` },
  {
    name: 'UTF-8 and custom request headers reach the app',
    path: '/echo',
    headers: { 'x-utf8': raw('café ☕'), 'x-custom': 'a value; with=stuff', 'accept-language': 'de-CH, fr;q=0.8', accept: 'application/json' },
  },
  {
    name: 'two Cookie request headers are one cookie string',
    path: '/echo',
    headers: ['Cookie', 'a=1', 'Cookie', 'b=2'], // two lines on the wire; nginx 1.22 sends two HTTP_COOKIE (§4.1 d)
    known: {
      apache: {
        why: 'Apache merges repeated request headers with ", ", Cookie included: HTTP_COOKIE="a=1, b=2" (docs/protocol.md "Front ends, in brief")',
        expect: (d) => editJson(d, (v) => ((v.headers as Record<string, string>).cookie = 'a=1, b=2')),
      },
    },
  },
  {
    name: 'empty request header value',
    path: '/echo',
    headers: ['X-Empty', ''],
    known: {
      lighttpd: {
        why: 'lighttpd does not forward empty-valued request headers (docs/protocol.md "Front ends, in brief")',
        expect: (d) => editJson(d, (v) => delete (v.headers as Record<string, string>)['x-empty']),
      },
    },
  },
  {
    name: 'req.ip, req.protocol, req.hostname, req.secure are plausible',
    path: '/echo/client',
    check: (d, p) => {
      const v = JSON.parse(p.body.toString()) as Record<string, unknown>;
      assert.equal(v.ip, '127.0.0.1', 'req.ip behind the front end is the client address (REMOTE_ADDR)');
      assert.equal(v.protocol, 'http');
      assert.equal(v.secure, false);
      assert.equal(v.hostname, '127.0.0.1');
      assert.equal((JSON.parse(d.body.toString()) as Record<string, unknown>).ip, '127.0.0.1');
    },
  },
  { name: 'PUT with a text body', method: 'PUT', path: '/echo/put?v=1', body: 'put body', headers: { 'content-type': 'text/plain' } },
  { name: 'DELETE', method: 'DELETE', path: '/echo/item/7' },
  { name: 'PATCH with an empty body', method: 'PATCH', path: '/echo/patch', body: '' },
  {
    name: 'POST JSON parsed by express.json() (UTF-8)',
    method: 'POST',
    path: '/json-body',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ name: 'Zoë', city: '東京', n: [1, 2, 3], nested: { ok: true } }),
  },
  {
    name: 'POST malformed JSON: Express 400 page',
    method: 'POST',
    path: '/json-body',
    headers: { 'content-type': 'application/json' },
    body: '{"broken": ',
  },
  {
    name: 'POST 1 MiB echoed back as sha256 and length',
    method: 'POST',
    path: '/upload',
    headers: { 'content-type': 'application/octet-stream' },
    body: UPLOAD,
    check: (d, p) => {
      const v = JSON.parse(p.body.toString()) as { length: number; sha256: string };
      assert.equal(v.length, UPLOAD.length);
      assert.equal(v.sha256, sha256(UPLOAD));
      assert.equal(JSON.parse(d.body.toString()).sha256, sha256(UPLOAD));
    },
  },
  {
    name: "POST 1 MiB through nginx's unbuffered location (/nobuf/)",
    method: 'POST',
    path: '/nobuf/upload',
    headers: { 'content-type': 'application/octet-stream' },
    body: UPLOAD,
    known: {
      nginx: {
        why:
          'with scgi_request_buffering off, nginx 1.22 sends CONTENT_LENGTH = only the part it had read (~9 KB) and ' +
          'then streams the rest of the body anyway (fixed in 1.29.6). The worker takes the body from CONTENT_LENGTH ' +
          'alone and drains the rest (docs/protocol.md "Front ends, in brief" and cases 21 and 24), so the app gets a prefix of the body and ' +
          "nginx logs no reset (checked by the end-of-run log check). Users: don't turn request buffering off on nginx < 1.29.6",
        instead: (p) => {
          assert.equal(p.status, 200, p.body.toString());
          const v = JSON.parse(p.body.toString()) as { length: number; sha256: string; contentLength: string };
          assert.ok(v.length > 0 && v.length < UPLOAD.length, `expected nginx's short CONTENT_LENGTH, got ${v.length}`);
          assert.equal(String(v.length), v.contentLength);
          assert.equal(v.sha256, sha256(UPLOAD.subarray(0, v.length)), 'the app got exactly the first CONTENT_LENGTH bytes');
        },
      },
    },
  },
  { name: 'POST with an empty body', method: 'POST', path: '/upload', body: '' },
  {
    name: 'POST with a chunked request body',
    method: 'POST',
    path: '/upload',
    headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' },
    body: UPLOAD.subarray(0, 100_000),
    known: {
      nginx: {
        why: 'nginx collects a chunked body and sends its length as CONTENT_LENGTH, so the app sees a Content-Length (docs/protocol.md "Front ends, in brief")',
        expect: (d) => editJson(d, (v) => (v.contentLength = '100000')),
      },
      lighttpd: {
        why: 'lighttpd collects a chunked body and sends its length as CONTENT_LENGTH, so the app sees a Content-Length (docs/protocol.md "Front ends, in brief")',
        expect: (d) => editJson(d, (v) => (v.contentLength = '100000')),
      },
      apache: {
        why: 'mod_proxy_scgi refuses chunked request bodies with 411, after opening an empty connection to the worker (docs/protocol.md "Front ends, in brief")',
        instead: (p) => assert.equal(p.status, 411),
      },
    },
  },
  {
    name: 'POST with Expect: 100-continue',
    method: 'POST',
    path: '/upload',
    headers: { expect: '100-continue', 'content-type': 'application/octet-stream' },
    body: UPLOAD.subarray(0, 50_000),
  },
  { name: 'POST then 303 See Other', method: 'POST', path: '/form', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  { name: 'redirect 302 with a relative Location', path: '/redirect' },
  { name: 'redirect 301 with an absolute Location', path: '/redirect-absolute' },
  {
    name: 'three Set-Cookie headers stay separate',
    path: '/cookies',
    check: (_d, p) => assert.equal((p.headers['set-cookie'] ?? []).length, 3),
  },
  { name: '204 No Content: no body, headers kept', path: '/nocontent' },
  { name: 'GET with validators: 200', path: '/etag' },
  { name: 'conditional GET, If-None-Match matches: 304', path: '/etag', headers: { 'if-none-match': '"v1"' }, check: (_d, p) => assert.equal(p.status, 304) },
  { name: 'conditional GET, If-Modified-Since: 304', path: '/etag', headers: { 'if-modified-since': 'Wed, 02 Oct 2024 10:00:00 GMT' } },
  { name: 'conditional GET, If-None-Match differs: 200', path: '/etag', headers: { 'if-none-match': '"v0"' } },
  {
    name: 'streamed response of unknown length (several writes with pauses)',
    path: '/stream',
    check: (d, p, via) => {
      noContentLength(d, 'stream');
      // nginx (scgi_buffering on, the default) and lighttpd (server.stream-response-body = 0, the default) collect
      // this small response before sending it; only Apache passes each write on. The worker itself flushes each
      // write (the /stream-unbuffered case shows it through nginx).
      assertStreamed(d, 'direct');
      if (via === 'apache') assertStreamed(p, via);
    },
  },
  {
    name: 'streamed response with X-Accel-Buffering: no',
    path: '/stream-unbuffered',
    check: (d, p, via) => {
      noContentLength(d, 'stream');
      assertStreamed(d, 'direct');
      // lighttpd ignores X-Accel-Buffering and collects the response (docs/protocol.md "Front ends, in brief").
      if (via !== 'lighttpd') assertStreamed(p, via);
    },
    known: {
      nginx: {
        why: 'nginx acts on X-Accel-Buffering and hides it from the client (docs/protocol.md "Front ends, in brief")',
        expect: (d) => void delete d.headers['x-accel-buffering'],
      },
    },
  },
  { name: 'GET 5 MiB with Content-Length', path: '/big' },
  { name: 'GET 5 MiB streamed without Content-Length', path: '/big-stream', check: (d) => noContentLength(d, 'big-stream') },
  { name: 'UTF-8 response header and Content-Disposition filename*', path: '/utf8-header' },
  { name: 'a response header appended twice', path: '/multi-header' },
  { name: '201 Created', path: '/status/201' },
  { name: '404 from the app', path: '/status/404' },
  { name: '503 from the app', path: '/status/503' },
  {
    name: "418 I'm a Teapot",
    path: '/status/418',
    known: {
      lighttpd: {
        why: "lighttpd replaces the backend's reason with its own table and has none for 418 (docs/protocol.md 'Front ends, in brief')",
        expect: (d) => void (d.statusMessage = ''),
      },
    },
  },
  {
    name: 'custom status 299 with a custom reason',
    path: '/custom-reason',
    known: {
      lighttpd: {
        why: 'lighttpd drops reasons of codes it does not know: "299 " (docs/protocol.md "Front ends, in brief")',
        expect: (d) => void (d.statusMessage = ''),
      },
    },
  },
  { name: 'unknown route: Express 404 page', path: '/no/such/route' },
  { name: 'route throws: Express 500 page', path: '/throw' },
  { name: 'async route rejects: Express 500 page', path: '/async-throw' },
  { name: 'res.sendFile with validators', path: '/file' },
  { name: 'Range request on res.sendFile: 206', path: '/file', headers: { range: 'bytes=10-41' } },
  { name: 'OPTIONS: Allow from the router', method: 'OPTIONS', path: '/text' },
];
