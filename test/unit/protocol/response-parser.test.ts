// parseResponseHead: CGI heads as nginx and lighttpd read them (docs/protocol.md "Front ends, in brief"), incrementally.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResponseHead } from '../../../src/protocol/response-parser.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { formatHead } from '../../../src/protocol/response-writer.js';
import { prng } from './parser-harness.js';

const L = (s: string) => Buffer.from(s, 'latin1');
const badHead = (err: unknown) => err instanceof ProtocolError && err.code === 'ERR_SCGI_BAD_RESPONSE_HEADER';

test('Status header with CRLF endings; bodyOffset points at the body', () => {
  const bytes = L('Status: 201 Created\r\nContent-Type: text/plain\r\nX-Empty:\r\n\r\nbody');
  const head = parseResponseHead(bytes);
  assert.deepEqual(head, {
    status: 201,
    reason: 'Created',
    headers: [
      ['Content-Type', 'text/plain'],
      ['X-Empty', ''],
    ],
    bodyOffset: bytes.length - 4,
  });
});

test('HTTP/1.x status line and LF-only endings are accepted (nginx, lighttpd)', () => {
  const bytes = L('HTTP/1.0 202 Accepted-ish\nX-A:  spaced value \t\n\nrest');
  const head = parseResponseHead(bytes);
  assert.deepEqual(head, { status: 202, reason: 'Accepted-ish', headers: [['X-A', 'spaced value']], bodyOffset: bytes.length - 4 });
});

test('defaults: no Status gives 200 OK, a Location without Status gives 302, a Status without reason gets the standard one', () => {
  assert.deepEqual(parseResponseHead(L('Content-Type: a\r\n\r\n'))?.status, 200);
  assert.deepEqual(parseResponseHead(L('Content-Type: a\r\n\r\n'))?.reason, 'OK');
  assert.equal(parseResponseHead(L('Location: /x\r\n\r\n'))?.status, 302);
  assert.equal(parseResponseHead(L('Status: 301\r\nLocation: /x\r\n\r\n'))?.status, 301);
  assert.equal(parseResponseHead(L('Status: 404\r\n\r\n'))?.reason, 'Not Found');
  const bare = parseResponseHead(L('\r\nbody'));
  assert.deepEqual(bare, { status: 200, reason: 'OK', headers: [], bodyOffset: 2 });
});

test('two Status headers: the first wins (nginx) and neither is listed in headers', () => {
  const head = parseResponseHead(L('Status: 201 A\r\nStatus: 202 B\r\n\r\n'));
  assert.equal(head?.status, 201);
  assert.deepEqual(head?.headers, []);
});

test('null while the head is incomplete, at every prefix; the same head once complete', () => {
  const bytes = L('Status: 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello');
  const full = parseResponseHead(bytes);
  assert.ok(full);
  assert.deepEqual(full.headers, [
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ]);
  for (let n = 0; n < full.bodyOffset; n++) assert.equal(parseResponseHead(bytes.subarray(0, n)), null, `prefix ${n}`);
  assert.deepEqual(parseResponseHead(bytes.subarray(0, full.bodyOffset)), full);
});

test('garbage throws ERR_SCGI_BAD_RESPONSE_HEADER as soon as a complete line shows it', () => {
  for (const text of [
    'just a body\n',
    'X-Bad Name: v\r\n\r\n',
    'ThisLineHasNoColon\r\n\r\n',
    'Status: abc\r\n\r\n',
    'Status: 42 Too Small\r\n\r\n',
    'Status: 600 Too Big\r\n\r\n',
    'HTTP/1.1 20\r\n\r\n',
    'HTTP/1.1 999 Nope\r\n\r\n',
    ': empty name\r\n\r\n',
  ]) {
    assert.throws(() => parseResponseHead(L(text)), badHead, JSON.stringify(text));
  }
});

test('a head over the maximum size throws, with or without its blank line', () => {
  const big = L(`X-Big: ${'a'.repeat(200)}\r\n\r\n`);
  assert.throws(() => parseResponseHead(big, 100), badHead);
  assert.throws(() => parseResponseHead(L(`X-Big: ${'a'.repeat(200)}`), 100), badHead);
  assert.ok(parseResponseHead(big, 1000));
  const huge = L(`X-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
  assert.throws(() => parseResponseHead(huge), badHead, 'default limit 64 KiB');
});

test('2000 random heads: formatHead output reads back identically; mutated bytes give a head, null or ProtocolError only', () => {
  const random = prng(7);
  const int = (n: number) => Math.floor(random() * n);
  const tokenChars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (let i = 0; i < 2000; i++) {
    const headers: Array<[string, string]> = [];
    for (let h = int(6); h > 0; h--) {
      const name = 'X-' + Array.from({ length: 1 + int(8) }, () => tokenChars[int(tokenChars.length)]).join('');
      // values: printable latin1 without surrounding blanks (the reader trims them, as front ends do)
      const value = Array.from({ length: int(12) }, () => String.fromCharCode(0x21 + int(0x5e))).join('');
      headers.push([name, value]);
    }
    const status = 100 + int(500);
    const bytes = Buffer.from(formatHead({ status, headers }) + 'body', 'latin1');
    const head = parseResponseHead(bytes);
    assert.ok(head);
    assert.equal(head.status, status);
    assert.deepEqual(head.headers, headers);
    assert.equal(bytes.subarray(head.bodyOffset).toString(), 'body');
    const mutated = Buffer.from(bytes);
    for (let m = 1 + int(3); m > 0; m--) mutated[int(mutated.length)] = int(256);
    try {
      parseResponseHead(mutated.subarray(0, int(mutated.length + 1)));
    } catch (err) {
      assert.ok(badHead(err), `seed 7, round ${i}: ${String(err)}`);
    }
  }
});
