// request-encoder: bytes as nginx builds them, checked against the captured layout (docs/protocol.md "Front ends, in brief") and round-tripped
// through RequestParser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../../helpers/paths.js';
import { encodeRequest, nginxLikeParams } from '../../../src/protocol/request-encoder.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { feed } from './parser-harness.js';

const CURL_GET = {
  method: 'GET',
  uri: '/path?x=1',
  headers: [
    ['Host', '127.0.0.1:18080'],
    ['User-Agent', 'curl/7.88.1'],
    ['Accept', '*/*'],
  ] as Array<[string, string]>,
  remotePort: 43210,
  serverPort: 18080,
  documentRoot: '/tmp/scgi-lab/nginx/html',
};

test('nginxLikeParams + encodeRequest reproduce the nginx 1.22.1 capture byte for byte (334-byte block)', () => {
  const bytes = encodeRequest(nginxLikeParams(CURL_GET));
  const fixture = readFileSync(join(FIXTURES, 'scgi', 'valid', '001-nginx-get-334.scgi'));
  assert.ok(bytes.toString('latin1').startsWith('334:CONTENT_LENGTH\x000\x00REQUEST_METHOD\x00GET\x00'));
  assert.deepEqual(bytes, fixture);
});

test('CONTENT_LENGTH is first and computed from the body; a caller-supplied one is dropped', () => {
  const body = Buffer.from('key=value1');
  const bytes = encodeRequest([['CONTENT_LENGTH', '999'], ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/p']], body);
  const o = feed([bytes]);
  assert.equal(o.error, null);
  assert.deepEqual(o.head?.params, [
    ['CONTENT_LENGTH', '10'],
    ['SCGI', '1'],
    ['REQUEST_METHOD', 'POST'],
    ['REQUEST_URI', '/p'],
  ]);
  assert.equal(o.body, 'key=value1');
  assert.equal(o.extraBytes, 0);
});

test('SCGI=1 is added only when missing, and can be left out like nginx without scgi_params', () => {
  const kept = feed([encodeRequest([['REQUEST_METHOD', 'GET'], ['SCGI', '1'], ['REQUEST_URI', '/']])]);
  assert.deepEqual(kept.head?.params.map(([n]) => n), ['CONTENT_LENGTH', 'REQUEST_METHOD', 'SCGI', 'REQUEST_URI']);
  const without = feed([encodeRequest([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/']], undefined, { addScgi: false })]);
  assert.deepEqual(without.warnings, [{ type: 'missing-scgi' }]);
  assert.equal(without.ended, true);
});

test('round trip: latin1 bytes, empty values, binary body, duplicates as nginx 1.22 sends them', () => {
  const params = nginxLikeParams({
    method: 'PUT',
    uri: '/p%C3%A9?q=a%00b&r=%ZZ',
    headers: [
      ['Host', 'Example.COM:8443'],
      ['Content-Type', 'application/octet-stream'],
      ['X-Utf8', Buffer.from('café', 'utf8').toString('latin1')],
      ['X-Empty', ''],
      ['Cookie', 'c1=1'],
      ['Cookie', 'c2=2'],
      ['X-Foo', 'a'],
      ['X-Foo', 'b'],
      ['X_Under', 'dropped by nginx'],
    ],
    remoteAddr: '::1',
    scheme: 'https',
    serverPort: 8443,
  });
  const body = Buffer.from([0, 1, 2, 0x2c, 0x3a, 0xff, 0]);
  const o = feed([encodeRequest(params, body)]);
  assert.equal(o.error, null);
  assert.ok(o.head);
  const got = Object.fromEntries(o.head.params);
  assert.equal(got.REQUEST_METHOD, 'PUT');
  assert.equal(got.REQUEST_URI, '/p%C3%A9?q=a%00b&r=%ZZ');
  assert.equal(got.QUERY_STRING, 'q=a%00b&r=%ZZ');
  assert.equal(got.DOCUMENT_URI, '/p%C3%A9');
  assert.equal(got.CONTENT_TYPE, 'application/octet-stream');
  assert.equal(got.HTTP_CONTENT_TYPE, 'application/octet-stream');
  assert.equal(got.HTTP_HOST, 'example.com'); // $host: lowercased, port dropped (Debian scgi_params)
  assert.equal(got.HTTPS, 'on');
  assert.equal(got.REQUEST_SCHEME, 'https');
  assert.equal(got.REMOTE_ADDR, '::1');
  assert.equal(got.SERVER_PORT, '8443');
  assert.equal(Buffer.from(got.HTTP_X_UTF8!, 'latin1').toString('utf8'), 'café');
  assert.equal(got.HTTP_X_EMPTY, '');
  assert.equal(got.HTTP_COOKIE, 'c1=1; c2=2');
  assert.equal(got.HTTP_X_FOO, 'a, b');
  assert.equal(got.HTTP_X_UNDER, undefined);
  assert.equal(Buffer.from(o.body, 'latin1').equals(body), true);
  assert.equal(o.head.params[0]![0], 'CONTENT_LENGTH');
});

test('names and values that cannot be encoded throw ProtocolError', () => {
  const bad = (err: unknown) => err instanceof ProtocolError && err.code === 'ERR_SCGI_BAD_HEADER';
  assert.throws(() => encodeRequest([['', 'x']]), bad);
  assert.throws(() => encodeRequest([['A\0B', 'x']]), bad);
  assert.throws(() => encodeRequest([['A', 'x\0y']]), bad);
});
