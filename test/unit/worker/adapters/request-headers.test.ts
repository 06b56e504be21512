// SCGI params → node:http-style headers (worker/adapters/request-headers.ts): names, the CONTENT_* truth, dropped names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestHead } from '../../../../src/protocol/request-parser.js';
import { httpVersion, isHttps, requestHeaders } from '../../../../src/worker/adapters/request-headers.js';

function head(params: Record<string, string>, contentLength = 0, method = 'GET'): RequestHead {
  const p: Record<string, string> = Object.create(null);
  p.CONTENT_LENGTH = String(contentLength);
  Object.assign(p, params);
  return { contentLength, params: p, method, uri: '/' };
}

test('HTTP_* become lowercase dashed names in arrival order; CGI variables are not headers', () => {
  const { headers, rawHeaders } = requestHeaders(
    head({ REQUEST_METHOD: 'GET', HTTP_HOST: 'example.com', HTTP_X_FORWARDED_FOR: '1.2.3.4', HTTP_COOKIE: 'a=1; b=2', SERVER_NAME: 'x' }),
  );
  assert.deepEqual(headers, { host: 'example.com', 'x-forwarded-for': '1.2.3.4', cookie: 'a=1; b=2' });
  assert.deepEqual(rawHeaders, ['host', 'example.com', 'x-forwarded-for', '1.2.3.4', 'cookie', 'a=1; b=2']);
});

test('content-length comes from CONTENT_LENGTH, never HTTP_CONTENT_LENGTH; TE, Expect dropped (cases 21, 22)', () => {
  const { headers } = requestHeaders(
    head(
      { HTTP_CONTENT_LENGTH: '1048576', HTTP_TRANSFER_ENCODING: 'chunked', HTTP_EXPECT: '100-continue', HTTP_X_A: '1' },
      9062,
      'POST',
    ),
  );
  assert.deepEqual(headers, { 'content-length': '9062', 'x-a': '1' });
});

test('content-length: present when > 0, when the client sent one, or for POST/PUT/PATCH; absent for a plain GET', () => {
  assert.equal(requestHeaders(head({}, 0, 'GET')).headers['content-length'], undefined);
  assert.equal(requestHeaders(head({}, 0, 'POST')).headers['content-length'], '0');
  assert.equal(requestHeaders(head({}, 0, 'PUT')).headers['content-length'], '0');
  assert.equal(requestHeaders(head({ HTTP_CONTENT_LENGTH: '0' }, 0, 'GET')).headers['content-length'], '0');
  assert.equal(requestHeaders(head({}, 5, 'DELETE')).headers['content-length'], '5');
});

test('content-type: CONTENT_TYPE wins over HTTP_CONTENT_TYPE; an empty CONTENT_TYPE (nginx GET) is no header', () => {
  assert.equal(
    requestHeaders(head({ CONTENT_TYPE: 'application/json', HTTP_CONTENT_TYPE: 'text/plain' }, 2, 'POST')).headers['content-type'],
    'application/json',
  );
  assert.equal(requestHeaders(head({ CONTENT_TYPE: '' })).headers['content-type'], undefined);
  assert.equal(requestHeaders(head({ CONTENT_TYPE: '', HTTP_CONTENT_TYPE: 'text/plain' })).headers['content-type'], 'text/plain');
});

test('two params mapping to one name merge like node:http; raw latin1 bytes are kept', () => {
  const { headers } = requestHeaders(head({ HTTP_X_A: '1', 'HTTP_X-A': '2', HTTP_X_UTF8: 'caf\xc3\xa9' }));
  assert.equal(headers['x-a'], '1, 2');
  assert.equal(headers['x-utf8'], 'caf\xc3\xa9');
  const { headers: h2 } = requestHeaders(head({ HTTP_CONSTRUCTOR: 'c' }));
  assert.equal(h2.constructor, 'c'); // a name that is also an Object.prototype key
});

test('HTTPS=on or REQUEST_SCHEME=https mean https', () => {
  assert.equal(isHttps({ HTTPS: 'on' }), true);
  assert.equal(isHttps({ HTTPS: 'ON' }), true);
  assert.equal(isHttps({ REQUEST_SCHEME: 'https' }), true);
  assert.equal(isHttps({ REQUEST_SCHEME: 'http' }), false);
  assert.equal(isHttps({}), false);
});

test('httpVersion from SERVER_PROTOCOL, 1.1 by default', () => {
  assert.deepEqual(httpVersion({ SERVER_PROTOCOL: 'HTTP/1.0' }), [1, 0]);
  assert.deepEqual(httpVersion({ SERVER_PROTOCOL: 'HTTP/1.1' }), [1, 1]);
  assert.deepEqual(httpVersion({ SERVER_PROTOCOL: 'HTTP/2.0' }), [2, 0]);
  assert.deepEqual(httpVersion({ SERVER_PROTOCOL: 'HTTP/2' }), [2, 0]);
  assert.deepEqual(httpVersion({ SERVER_PROTOCOL: 'INCLUDED' }), [1, 1]);
  assert.deepEqual(httpVersion({}), [1, 1]);
});
