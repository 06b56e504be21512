// Hostile header semantics (docs/protocol.md B, cases 15-22) against the built supervisor over raw sockets, on 127.0.0.1
// and on a unix socket: what is rejected (400/413/500, well formed, at once) and, for what is accepted, exactly what
// the app sees (life-echo.cjs answers the method, url, headers and body it got). Afterwards the same workers serve.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertRejected,
  assertSameWorkers,
  block,
  exchange,
  frame,
  request,
  serve,
  show,
  type Pair,
  type Served,
} from '../helpers/scgi-raw.js';
import { echoOf, echoPid } from '../helpers/life-echo.js';


/** Bytes of a latin1 string the app reported (node:http headers and url are latin1, byte-exact). */
const raw = (latin1: string | undefined): Buffer => Buffer.from(latin1 ?? '<missing>', 'latin1');

const BASE: Pair[] = [['SCGI', '1'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/h']];

for (const kind of ['tcp', 'unix'] as const) {
  describe(`hostile headers over ${kind} (docs/protocol.md cases 15-22)`, { timeout: 60_000 }, () => {
    let s: Served;
    before(async () => {
      // no HTTP_PROXY in the supervisor's own environment, so case 22's httpoxy check means something
      s = await serve({ app: 'life-echo.cjs', kind, env: { HTTP_PROXY: undefined, http_proxy: undefined } });
    });
    after(async () => {
      await s?.cleanup();
    });

    test('case 15: CONTENT_LENGTH missing gets 400 (or 411)', async () => {
      assertRejected(await exchange(s.target, [frame(block(BASE))]), [400, 411]);
    });

    test('case 16: CONTENT_LENGTH not first gets 400', async () => {
      assertRejected(await exchange(s.target, [frame(block([BASE[0]!, ['CONTENT_LENGTH', '0'], ...BASE.slice(1)]))]), 400);
    });

    test('case 17: a non-decimal CONTENT_LENGTH gets 400; leading zeros are decimal (010 is 10)', async () => {
      const arabicDigits = Buffer.from('١٢', 'utf8');
      for (const value of ['', '12a', '-1', '+5', ' 5', '5 ', '0x10', '1e3', '1.0', arabicDigits]) {
        const o = await exchange(s.target, [frame(block([['CONTENT_LENGTH', value], ...BASE]), '12345')]);
        assertRejected(o, 400);
      }
      const e = echoOf(await exchange(s.target, [frame(block([['CONTENT_LENGTH', '010'], ...BASE.slice(0, 1), ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/h']]), '0123456789')]));
      assert.equal(e.bodyLength, 10);
      assert.equal(Buffer.from(e.bodyBase64, 'base64').toString(), '0123456789');
    });

    test('case 18: CONTENT_LENGTH beyond the max body or the safe integer range gets 413 without the body being sent', async () => {
      for (const value of ['2147483648', '9007199254740993', '99999999999999999999999999']) {
        const o = await exchange(s.target, [frame(block([['CONTENT_LENGTH', value], ['SCGI', '1'], ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/h']]))], {
          timeoutMs: 3000,
        });
        assert.notEqual(o.ending, 'timeout', `CONTENT_LENGTH ${value}: no answer before the body (${show(o)})`);
        const res = assertRejected(o, 413);
        assert.equal(res.reason, 'Payload Too Large', show(o));
      }
    });

    test('case 19: SCGI missing or not "1" is accepted, with one warning per worker naming scgi_params', async () => {
      const since = s.sup.logs().length;
      const noScgi = frame(block([['CONTENT_LENGTH', '0'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/no-scgi']]));
      const scgi2 = frame(block([['CONTENT_LENGTH', '0'], ['SCGI', '2'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/scgi-2']]));
      for (let i = 0; i < 10; i++) {
        assert.equal(echoOf(await exchange(s.target, [noScgi])).url, '/no-scgi');
        assert.equal(echoOf(await exchange(s.target, [scgi2])).url, '/scgi-2');
      }
      const warnings = s.sup
        .logs()
        .slice(since)
        .split('\n')
        .filter((l) => /^\S+ WARN\b/.test(l) && l.includes('scgi_params'));
      assert.ok(warnings.length <= s.initialPids.length, `${warnings.length} warnings for 2 workers:\n${warnings.join('\n')}`);
      assert.match(s.sup.logs(), /^\S+ WARN .*scgi_params/m);
    });

    test('case 19: REQUEST_METHOD or REQUEST_URI missing (or empty) gets 500, not a crash', async () => {
      for (const pairs of [
        [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_URI', '/x']],
        [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET']],
        [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', ''], ['REQUEST_URI', '/x']],
        // nginx without `include scgi_params` (docs/protocol.md "Front ends, in brief")
        [['CONTENT_LENGTH', '0'], ['HTTP_HOST', 'example'], ['HTTP_USER_AGENT', 'curl'], ['HTTP_ACCEPT', '*/*']],
      ] as Pair[][]) {
        assertRejected(await exchange(s.target, [frame(block(pairs))]), 500);
      }
    });

    test('case 20: duplicate HTTP_* names are merged in order (Cookie with "; ")', async () => {
      const e = echoOf(
        await exchange(s.target, [
          request('GET', '/dup', [
            ['HTTP_X_FOO', 'a'],
            ['HTTP_COOKIE', 'c1=1'],
            ['HTTP_X_FORWARDED_FOR', '1.1.1.1'],
            ['HTTP_X_FOO', 'b'],
            ['HTTP_COOKIE', 'c2=2'],
            ['HTTP_X_FORWARDED_FOR', '6.6.6.6'],
          ]),
        ]),
      );
      assert.equal(e.headers['x-foo'], 'a, b');
      assert.equal(e.headers['cookie'], 'c1=1; c2=2');
      assert.equal(e.headers['x-forwarded-for'], '1.1.1.1, 6.6.6.6');
    });

    test('case 20: duplicate non-HTTP_ names (CONTENT_LENGTH, REQUEST_METHOD, REQUEST_URI, SCGI) get 400', async () => {
      const cases: Pair[][] = [
        [['CONTENT_LENGTH', '0'], ...BASE, ['CONTENT_LENGTH', '5']],
        [['CONTENT_LENGTH', '0'], ...BASE, ['REQUEST_METHOD', 'POST']],
        [['CONTENT_LENGTH', '0'], ...BASE, ['REQUEST_URI', '/other']],
        [['CONTENT_LENGTH', '0'], ...BASE, ['SCGI', '1']],
      ];
      for (const pairs of cases) assertRejected(await exchange(s.target, [frame(block(pairs), '12345')]), 400);
    });

    test('case 21: the body length comes only from CONTENT_LENGTH; a chunked TE is never de-chunked', async () => {
      const chunked = '5\r\nhello\r\n';
      const e = echoOf(
        await exchange(s.target, [
          request('POST', '/te', [['HTTP_CONTENT_LENGTH', '100'], ['HTTP_TRANSFER_ENCODING', 'chunked']], chunked),
        ]),
      );
      assert.equal(Buffer.from(e.bodyBase64, 'base64').toString('latin1'), chunked);
      // nginx < 1.29.6 unbuffered: CONTENT_LENGTH 5 but HTTP_CONTENT_LENGTH says more; 5 bytes are the body
      const m = echoOf(await exchange(s.target, [request('POST', '/mismatch', [['HTTP_CONTENT_LENGTH', '9062']], 'hello')]));
      assert.equal(m.bodyLength, 5);
    });

    test('case 22: bytes >= 0x80 and invalid UTF-8 are kept raw; absolute-form REQUEST_URI is kept as sent', async () => {
      const utf8 = Buffer.from('caf\xc3\xa9', 'latin1');
      const invalid = Buffer.from([0x61, 0xff, 0xfe, 0x80, 0x62]);
      const uri = Buffer.from('/p\xc3\xa9%20x/..%2Fy?q=a%00b&r=%ZZ&s=\xff', 'latin1');
      const e = echoOf(
        await exchange(s.target, [
          request('GET', uri.toString('latin1'), [
            ['HTTP_X_UTF8', utf8],
            ['HTTP_X_INVALID', invalid],
            [Buffer.from('X_ODD_\xe9', 'latin1'), 'odd name'],
          ]),
        ]),
      );
      assert.deepEqual(raw(e.headers['x-utf8']), utf8);
      assert.deepEqual(raw(e.headers['x-invalid']), invalid);
      assert.deepEqual(raw(e.url), uri);
      const abs = echoOf(await exchange(s.target, [request('GET', 'http://evil.example/abs?x=1', [['HTTP_HOST', 'evil.example']])]));
      assert.equal(abs.url, 'http://evil.example/abs?x=1');
    });

    test('case 22: comma-joined cookies pass as sent; HTTP_PROXY never reaches the env; no 100 Continue is sent', async () => {
      const o = await exchange(s.target, [
        request('POST', '/expect', [['HTTP_COOKIE', 'c1=1, c2=2'], ['HTTP_PROXY', 'http://attacker.example:8080'], ['HTTP_EXPECT', '100-continue']], 'abc'),
      ]);
      assert.ok(o.data.toString('latin1').startsWith('Status: 200 '), show(o));
      const e = echoOf(o);
      assert.equal(e.headers['cookie'], 'c1=1, c2=2');
      assert.equal(e.envHttpProxy, null);
      assert.equal(e.bodyLength, 3);
    });

    test('afterwards: the same workers serve and none exited', async () => {
      await assertSameWorkers(s, echoPid);
    });
  });
}

describe('strict mode and configured limits (docs/protocol.md cases 5, 18, 19, 20; "all limits must be configurable")', { timeout: 30_000 }, () => {
  let s: Served;
  before(async () => {
    s = await serve({
      app: 'life-echo.cjs',
      kind: 'tcp',
      args: ['--strict', '--max-header-bytes', '2048', '--max-body-bytes', '100'],
      env: { SCGI_SUPERVISE_MAX_HEADER_COUNT: '20' }, // no flag for this one; the environment layer sets it
    });
  });
  after(async () => {
    await s?.cleanup();
  });

  test('--strict: SCGI missing or not "1" gets 400, and so does any duplicate name', async () => {
    assertRejected(await exchange(s.target, [frame(block([['CONTENT_LENGTH', '0'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/']]))]), 400);
    assertRejected(await exchange(s.target, [frame(block([['CONTENT_LENGTH', '0'], ['SCGI', '2'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/']]))]), 400);
    assertRejected(await exchange(s.target, [request('GET', '/', [['HTTP_X_FOO', 'a'], ['HTTP_X_FOO', 'b']])]), 400);
    assert.equal(echoOf(await exchange(s.target, [request('GET', '/fine', [['HTTP_X_FOO', 'a']])])).url, '/fine');
  });

  test('--max-header-bytes and max-header-count give 431 above them', async () => {
    const o = await exchange(s.target, ['2049:'], { timeoutMs: 3000 });
    assert.equal(assertRejected(o, 431).status, 431);
    const many: Pair[] = Array.from({ length: 25 }, (_, i) => [`HTTP_X_${i}`, 'v'] as Pair);
    assertRejected(await exchange(s.target, [request('GET', '/many', many)]), 431);
    assert.equal(echoOf(await exchange(s.target, [request('GET', '/few', many.slice(0, 10))])).url, '/few');
  });

  test('--max-body-bytes gives 413 above it, before the body, and serves a body at the limit', async () => {
    const head = frame(block([['CONTENT_LENGTH', '101'], ['SCGI', '1'], ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/b']]));
    assertRejected(await exchange(s.target, [head], { timeoutMs: 3000 }), 413);
    assert.equal(echoOf(await exchange(s.target, [request('POST', '/b', [], 'x'.repeat(100))])).bodyLength, 100);
  });
});
