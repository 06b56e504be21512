// parseListenAddress / formatListenAddress: every accepted form, the round trip, and the refusals (ConfigError key
// `listen`; tests assert code and key, never message text).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { formatListenAddress, parseListenAddress } from '../../../src/config/listen-address.js';

const CWD = '/srv/app';

test('accepted forms parse to the right ListenAddress', () => {
  const cases: Array<[string, unknown]> = [
    ['127.0.0.1:4000', { kind: 'tcp', host: '127.0.0.1', port: 4000 }],
    ['0.0.0.0:80', { kind: 'tcp', host: '0.0.0.0', port: 80 }],
    ['localhost:8080', { kind: 'tcp', host: 'localhost', port: 8080 }],
    ['app.internal.example:65535', { kind: 'tcp', host: 'app.internal.example', port: 65535 }],
    [':4001', { kind: 'tcp', host: '127.0.0.1', port: 4001 }],
    ['4002', { kind: 'tcp', host: '127.0.0.1', port: 4002 }],
    ['[::1]:4000', { kind: 'tcp', host: '::1', port: 4000 }],
    ['[::]:1', { kind: 'tcp', host: '::', port: 1 }],
    ['[fe80::1:2]:443', { kind: 'tcp', host: 'fe80::1:2', port: 443 }],
    ['unix:/run/app.sock', { kind: 'unix', path: '/run/app.sock' }],
    ['unix:app.sock', { kind: 'unix', path: '/srv/app/app.sock' }],
    ['unix:../run/x.sock', { kind: 'unix', path: '/srv/run/x.sock' }],
    ['unix:/run//a/../app.sock', { kind: 'unix', path: '/run/app.sock' }],
    ['fd:3', { kind: 'fd', fd: 3 }],
    ['fd:10', { kind: 'fd', fd: 10 }],
    ['  127.0.0.1:4000  ', { kind: 'tcp', host: '127.0.0.1', port: 4000 }],
  ];
  for (const [input, expected] of cases) assert.deepEqual(parseListenAddress(input, CWD), expected, input);
});

test('formatListenAddress gives the log-line form and round-trips', () => {
  const cases: Array<[string, string]> = [
    ['4000', '127.0.0.1:4000'],
    ['[::1]:4000', '[::1]:4000'],
    ['[fe80::1:2]:443', '[fe80::1:2]:443'],
    ['localhost:80', 'localhost:80'],
    ['unix:app.sock', 'unix:/srv/app/app.sock'],
    ['fd:3', 'fd:3'],
  ];
  for (const [input, printed] of cases) {
    const parsed = parseListenAddress(input, CWD);
    assert.equal(formatListenAddress(parsed), printed, input);
    assert.deepEqual(parseListenAddress(printed, CWD), parsed, `round trip of ${input}`);
  }
});

test('bad addresses are ConfigError with key listen and a hint', () => {
  const bad = [
    '',
    '   ',
    'localhost', // no port
    '127.0.0.1:', // empty port
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '127.0.0.1:http',
    '127.0.0.1:-1',
    '::1:4000', // IPv6 without brackets
    '[::1]', // no port
    '[::1:4000', // unclosed
    '[127.0.0.1]:4000', // brackets around IPv4
    '[::1]4000',
    '1.2.3:4000', // neither IPv4 nor a name
    '999.1.1.1:4000',
    'bad_host!:4000',
    'unix:',
    'unix:' + '/x'.repeat(60), // longer than sun_path
    'fd:',
    'fd:x',
    'fd:0',
    'fd:2',
    '/run/app.sock', // a path without unix:
    './app.sock',
  ];
  for (const input of bad) {
    assert.throws(
      () => parseListenAddress(input, CWD),
      (err: unknown) =>
        err instanceof ConfigError && err.code === 'ERR_CONFIG_INVALID' && err.key === 'listen' && typeof err.hint === 'string' && err.hint.length > 0,
      JSON.stringify(input),
    );
  }
});

test('a caller may name another key for the same grammar', () => {
  assert.throws(
    () => parseListenAddress('nope', CWD, 'request-listen'),
    (err: unknown) => err instanceof ConfigError && err.key === 'request-listen',
  );
});
