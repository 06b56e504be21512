// response-writer: the rules of docs/protocol.md D (cases 28-35) that a head formatter can own. Every head produced here is
// read back with parseResponseHead (what nginx/lighttpd would see) as well as checked textually.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorResponse, formatHead, isBodiless, isHopByHop, reasonPhrase } from '../../../src/protocol/response-writer.js';
import { parseResponseHead } from '../../../src/protocol/response-parser.js';
import { ProtocolError } from '../../../src/protocol/errors.js';

const badHeader = (err: unknown) => err instanceof ProtocolError && err.code === 'ERR_SCGI_BAD_RESPONSE_HEADER';

test('case 28: one CGI Status line first, never HTTP/1.x, CRLF endings, blank line last', () => {
  const head = formatHead({ status: 200, headers: [['Content-Type', 'text/plain'], ['Content-Length', '2']] });
  assert.equal(head, 'Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n');
  assert.ok(!head.includes('HTTP/'));
  assert.equal(head.split('\r\n').filter((l) => l.startsWith('Status:')).length, 1);
  assert.ok(!/[^\r]\n/.test(head), 'every LF is preceded by CR');
});

test('case 28: a reason phrase is always present; invalid reasons are replaced, custom valid ones kept', () => {
  assert.equal(formatHead({ status: 404, headers: [] }), 'Status: 404 Not Found\r\n\r\n');
  assert.equal(formatHead({ status: 404, reason: '', headers: [] }), 'Status: 404 Not Found\r\n\r\n');
  assert.equal(formatHead({ status: 404, reason: 'Nope\r\nX-Injected: 1', headers: [] }), 'Status: 404 Not Found\r\n\r\n');
  assert.equal(formatHead({ status: 404, reason: 'Bad\x00', headers: [] }), 'Status: 404 Not Found\r\n\r\n');
  assert.equal(formatHead({ status: 404, reason: 'Gone Fishing', headers: [] }), 'Status: 404 Gone Fishing\r\n\r\n');
  assert.equal(formatHead({ status: 299, headers: [] }), 'Status: 299 Unknown\r\n\r\n');
});

test('case 28: the status is validated as 100-599', () => {
  for (const status of [99, 600, 0, -1, 200.5, Number.NaN, 1000]) {
    assert.throws(() => formatHead({ status, headers: [] }), badHeader, String(status));
  }
  for (const status of [100, 101, 599]) assert.ok(formatHead({ status, headers: [] }).startsWith(`Status: ${status} `));
});

test('case 28: an app-set Status header never produces a second Status line', () => {
  const head = formatHead({ status: 201, headers: [['Status', '500 Oops'], ['X-A', '1']] });
  assert.equal(head, 'Status: 201 Created\r\nX-A: 1\r\n\r\n');
});

test('case 29: a redirect keeps its explicit status and Location', () => {
  const head = formatHead({ status: 302, headers: [['Location', '/there']] });
  assert.equal(head, 'Status: 302 Found\r\nLocation: /there\r\n\r\n');
  assert.deepEqual(parseResponseHead(Buffer.from(head, 'latin1'))?.status, 302);
});

test('case 30: Transfer-Encoding and hop-by-hop headers are stripped (Upgrade kept only with 101)', () => {
  const headers: Array<[string, string]> = [
    ['Connection', 'close'],
    ['Keep-Alive', 'timeout=5'],
    ['TE', 'trailers'],
    ['Trailer', 'X-T'],
    ['Transfer-Encoding', 'chunked'],
    ['transfer-encoding', 'chunked'],
    ['Upgrade', 'websocket'],
    ['Proxy-Connection', 'keep-alive'],
    ['Proxy-Authenticate', 'Basic'],
    ['X-Kept', 'yes'],
  ];
  assert.equal(formatHead({ status: 200, headers }), 'Status: 200 OK\r\nX-Kept: yes\r\n\r\n');
  assert.equal(formatHead({ status: 101, headers }), 'Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Kept: yes\r\n\r\n');
  for (const name of ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'proxy-connection', 'proxy-authorization']) {
    assert.equal(isHopByHop(name, 200), true, name);
  }
  assert.equal(isHopByHop('upgrade', 200), true);
  assert.equal(isHopByHop('upgrade', 101), false);
  for (const name of ['content-type', 'content-length', 'set-cookie', 'location', 'x-proxy']) assert.equal(isHopByHop(name, 200), false, name);
});

test('case 31: at most one Content-Length; identical duplicates collapse, conflicting ones throw, non-digits throw', () => {
  assert.equal(
    formatHead({ status: 200, headers: [['Content-Length', '5'], ['content-length', '5']] }),
    'Status: 200 OK\r\nContent-Length: 5\r\n\r\n',
  );
  assert.throws(() => formatHead({ status: 200, headers: [['Content-Length', '5'], ['Content-Length', '6']] }), badHeader);
  for (const v of ['', '-1', '5 ', '0x5', '1e3']) {
    assert.throws(() => formatHead({ status: 200, headers: [['Content-Length', v]] }), badHeader, JSON.stringify(v));
  }
});

test('case 32: names must be tokens, values free of CR/LF/NUL and control characters', () => {
  for (const name of ['X-Bad Name', '', 'X:Y', 'X\r\nY', 'Ünïcode', 'X(Y)', 'X/Y']) {
    assert.throws(() => formatHead({ status: 200, headers: [[name, 'v']] }), badHeader, JSON.stringify(name));
  }
  for (const value of ['a\r\nSet-Cookie: x=1', 'a\nb', 'a\rb', 'a\0b', 'a\x01b', 'a\x7fb', '\u0100']) {
    assert.throws(() => formatHead({ status: 200, headers: [['X-V', value]] }), badHeader, JSON.stringify(value));
  }
  // Tabs, empty values and obs-text (latin1) are fine, as in node:http.
  const head = formatHead({ status: 200, headers: [['X-Tab', 'a\tb'], ['X-Empty', ''], ['X-Latin1', 'caf\xe9'], ["X-Token!#$%&'*+.^_`|~", '1']] });
  assert.equal(head, "Status: 200 OK\r\nX-Tab: a\tb\r\nX-Empty: \r\nX-Latin1: caf\xe9\r\nX-Token!#$%&'*+.^_`|~: 1\r\n\r\n");
  const parsed = parseResponseHead(Buffer.from(head, 'latin1'));
  assert.deepEqual(parsed?.headers.map(([n]) => n), ['X-Tab', 'X-Empty', 'X-Latin1', "X-Token!#$%&'*+.^_`|~"]);
});

test('case 32: repeated non-special headers (Set-Cookie) are all kept, in order', () => {
  const head = formatHead({ status: 200, headers: [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']] });
  assert.equal(head, 'Status: 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n');
});

test('case 35: HEAD, 1xx, 204 and 304 are bodiless; the head still ends with a blank line', () => {
  assert.equal(isBodiless('HEAD', 200), true);
  assert.equal(isBodiless('GET', 204), true);
  assert.equal(isBodiless('GET', 304), true);
  assert.equal(isBodiless('GET', 100), true);
  assert.equal(isBodiless('GET', 200), false);
  assert.equal(isBodiless('POST', 404), false);
  assert.ok(formatHead({ status: 204, headers: [] }).endsWith('\r\n\r\n'));
});

test('cases 2-19, 34: errorResponse is a complete text/plain response with an exact Content-Length', () => {
  for (const status of [400, 408, 413, 431, 500, 502, 503]) {
    const bytes = errorResponse(status);
    const head = parseResponseHead(bytes);
    assert.ok(head, String(status));
    assert.equal(head.status, status);
    assert.equal(head.reason, reasonPhrase(status));
    const cl = head.headers.find(([n]) => n === 'Content-Length')?.[1];
    assert.equal(Number(cl), bytes.length - head.bodyOffset);
    assert.match(head.headers.find(([n]) => n === 'Content-Type')?.[1] ?? '', /^text\/plain/);
    assert.ok(bytes.subarray(head.bodyOffset).toString().startsWith(`${status} `));
  }
  const custom = errorResponse(400, 'bad request: café');
  const head = parseResponseHead(custom)!;
  assert.equal(custom.subarray(head.bodyOffset).toString('utf8'), 'bad request: café\n');
  assert.equal(Number(head.headers.find(([n]) => n === 'Content-Length')?.[1]), Buffer.byteLength('bad request: café\n'));
});

test('reasonPhrase covers the standard codes', () => {
  const expected: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content', 301: 'Moved Permanently', 302: 'Found', 304: 'Not Modified', 400: 'Bad Request', 408: 'Request Timeout', 411: 'Length Required', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' };
  for (const [code, phrase] of Object.entries(expected)) assert.equal(reasonPhrase(Number(code)), phrase);
  for (const code of [100, 101, 202, 206, 307, 308, 401, 403, 404, 405, 409, 410, 412, 415, 416, 418, 422, 429, 451, 501, 504, 505]) {
    assert.notEqual(reasonPhrase(code), 'Unknown', String(code));
  }
  assert.equal(reasonPhrase(299), 'Unknown');
});

test('the name cache never changes a verdict: repeated and many distinct names', () => {
  for (let round = 0; round < 3; round++) {
    assert.throws(() => formatHead({ status: 200, headers: [['X Bad', 'v']] }), badHeader);
    assert.equal(formatHead({ status: 200, headers: [['Connection', 'close'], ['X-Ok', 'v']] }), 'Status: 200 OK\r\nX-Ok: v\r\n\r\n');
    assert.equal(formatHead({ status: 101, headers: [['Upgrade', 'h2c']] }), 'Status: 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n');
    assert.equal(formatHead({ status: 200, headers: [['Upgrade', 'h2c']] }), 'Status: 200 OK\r\n\r\n');
  }
  // More distinct names than the cache holds: the ones past the bound are still checked and emitted.
  const headers: Array<[string, string]> = Array.from({ length: 1500 }, (_, i) => [`X-N${i}`, String(i)]);
  const head = formatHead({ status: 200, headers: [...headers, ['Transfer-Encoding', 'chunked'], ['Proxy-X', '1']] });
  assert.equal(head.split('\r\n').length, 1 + 1500 + 2);
  assert.ok(head.includes('X-N1499: 1499\r\n') && !head.includes('Transfer-Encoding') && !head.includes('Proxy-X'));
});
