// Property-based tests of RequestParser with fast-check (issue 13): random bytes and random splits of valid requests
// never throw out of push()/end(), always end in exactly one terminal event (the harness checks the sink contract),
// and a valid request parses the same however it is cut. Bounded in runs and time; a failure prints fast-check's
// seed and the shrunk input to replay it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeRequest, nginxLikeParams } from '../../../src/protocol/request-encoder.js';
import { feed, split, type Outcome } from './parser-harness.js';

const RUNS = 400;
const TIME_LIMIT_MS = 4000;

/** Offsets (ascending, inside the buffer) at which to cut `length` bytes. */
const cutsOf = (length: number) =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: Math.min(24, Math.max(0, length - 1)) }).map((cuts) => cuts.filter((c) => c < length).sort((a, b) => a - b));

const token = fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/);
// Header values as latin1 text without NUL (NUL cannot be encoded inside a value).
const value = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });

const validRequest = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH'),
    path: fc.stringMatching(/^\/[A-Za-z0-9/._~-]{0,30}$/),
    query: fc.option(fc.stringMatching(/^[A-Za-z0-9=&%+]{0,20}$/), { nil: undefined }),
    headers: fc.array(fc.tuple(token, value), { maxLength: 8 }),
    body: fc.uint8Array({ maxLength: 300 }),
  })
  .map((r) => {
    const uri = r.query === undefined ? r.path : `${r.path}?${r.query}`;
    return encodeRequest(nginxLikeParams({ method: r.method, uri, headers: r.headers }), Buffer.from(r.body));
  });

/** What a parse produced, without the bookkeeping that depends on where the bytes were cut. */
function result(o: Outcome) {
  return { head: o.head, body: o.body, ended: o.ended, error: o.error, warnings: o.warnings, extraBytes: o.extraBytes };
}

function assertContract(o: Outcome): void {
  assert.deepEqual(o.violations, []);
  assert.ok(o.ended !== (o.error !== null), 'exactly one terminal event');
}

test('random bytes, cut anywhere: the parser never throws and always ends in exactly one terminal event', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }).chain((bytes) => fc.tuple(fc.constant(Buffer.from(bytes)), cutsOf(bytes.length))),
      ([bytes, cuts]) => assertContract(feed(split(bytes, cuts))),
    ),
    { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS },
  );
});

test('random bytes after a valid length prefix (the header parser, not just the netstring reader, sees them)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 400 }).chain((raw) => {
        const bytes = Buffer.concat([Buffer.from(`${raw.length}:`), Buffer.from(raw), Buffer.from(',')]);
        return fc.tuple(fc.constant(bytes), cutsOf(bytes.length));
      }),
      ([bytes, cuts]) => assertContract(feed(split(bytes, cuts))),
    ),
    { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS },
  );
});

test('a valid request parses the same whole, byte by byte and cut at random offsets', () => {
  fc.assert(
    fc.property(
      validRequest.chain((bytes) => fc.tuple(fc.constant(bytes), cutsOf(bytes.length))),
      ([bytes, cuts]) => {
        const whole = feed([bytes]);
        assertContract(whole);
        assert.equal(whole.error, null, `a valid request was refused: ${JSON.stringify(whole.error)}`);
        assert.ok(whole.head !== null);
        const cut = feed(split(bytes, cuts));
        assertContract(cut);
        assert.deepEqual(result(cut), result(whole));
        const bytewise = feed(split(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)));
        assert.deepEqual(result(bytewise), result(whole));
      },
    ),
    { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS },
  );
});
