// RequestParser against the fixture pairs test/fixtures/scgi/{valid,invalid}/NNN-name.{scgi,json} (written by
// test/fixtures/scgi/generate.mjs). Each fixture is fed whole, byte by byte, split at every offset into two, and
// in three random splits; the outcome must be identical and match the .json (docs/protocol.md cases 1-27).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../../helpers/paths.js';
import { feed, prng, split, type Outcome } from './parser-harness.js';
import type { ProtocolLimits } from '../../../src/protocol/limits.js';

interface Fixture {
  name: string;
  bytes: Buffer;
  json: {
    cases: number[];
    description: string;
    limits?: Partial<ProtocolLimits>;
    [key: string]: unknown;
  };
}

function load(kind: 'valid' | 'invalid'): Fixture[] {
  const dir = join(FIXTURES, 'scgi', kind);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.scgi'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.scgi'.length);
      return { name, bytes: readFileSync(join(dir, f)), json: JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) };
    });
}

/** What must not depend on how the bytes were cut. */
function comparable(o: Outcome): unknown {
  return { head: o.head, body: o.body, ended: o.ended, error: o.error, warnings: o.warnings, extraBytes: o.extraBytes, bytesReceived: o.bytesReceived };
}

/** Every way of cutting the fixture the tests use, each with a label for the failure message. */
function* cuttings(bytes: Buffer, seed: number): Generator<[string, Buffer[]]> {
  yield ['byte by byte', Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1))];
  for (let at = 1; at < bytes.length; at++) yield [`split at ${at}`, split(bytes, [at])];
  const random = prng(seed);
  for (let n = 0; n < 3; n++) {
    const cuts = new Set<number>();
    const count = 1 + Math.floor(random() * 8);
    for (let i = 0; i < count && bytes.length > 1; i++) cuts.add(1 + Math.floor(random() * (bytes.length - 1)));
    const sorted = [...cuts].sort((a, b) => a - b);
    yield [`random split ${sorted.join(',')}`, split(bytes, sorted)];
  }
}

function checkSplits(f: Fixture, reference: Outcome): void {
  let seed = 0;
  for (const ch of f.name) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  for (const [label, chunks] of cuttings(f.bytes, seed)) {
    const o = feed(chunks, f.json.limits);
    assert.deepEqual(o.violations, [], `${f.name}, ${label}: sink contract`);
    assert.deepEqual(comparable(o), comparable(reference), `${f.name}, ${label}: same outcome as whole`);
  }
}

const valid = load('valid');
const invalid = load('invalid');

test('fixtures exist for every request-side case of docs/protocol.md (cases 1-27)', () => {
  const covered = new Set([...valid, ...invalid].flatMap((f) => f.json.cases));
  const missing = [];
  for (let c = 1; c <= 27; c++) if (!covered.has(c)) missing.push(c);
  assert.deepEqual(missing, []);
  assert.ok(valid.length >= 20 && invalid.length >= 40);
});

for (const f of valid) {
  test(`valid ${f.name}: ${f.json.description} (cases ${f.json.cases.join(', ')})`, () => {
    const j = f.json;
    // Complete without EOF: front ends never half-close (case 27).
    const whole = feed([f.bytes], j.limits, false);
    assert.deepEqual(whole.violations, []);
    assert.equal(whole.error, null, `${f.name}: unexpected error ${JSON.stringify(whole.error)}`);
    assert.equal(whole.ended, true, 'onEnd without waiting for EOF');
    assert.equal(whole.terminalAt, f.bytes.length);
    assert.ok(whole.head);
    assert.deepEqual(whole.head.params, j.params);
    assert.equal(whole.head.nullProto, true, 'params inherits nothing');
    assert.equal(whole.head.contentLength, j.contentLength);
    assert.equal(whole.head.method, j.method);
    assert.equal(whole.head.uri, j.uri);
    assert.equal(whole.body, j.body);
    assert.equal(whole.extraBytes, j.extraBytes);
    assert.deepEqual(whole.warnings, j.warnings);
    // EOF after a complete request changes nothing.
    const withEnd = feed([f.bytes], j.limits, true);
    assert.deepEqual(comparable(withEnd), comparable(whole));
    checkSplits(f, withEnd);
  });
}

for (const f of invalid) {
  test(`invalid ${f.name}: ${f.json.description} (cases ${f.json.cases.join(', ')})`, () => {
    const j = f.json as Fixture['json'] & {
      code: string;
      status: number | null;
      reportedBy?: number;
      needsEnd?: boolean;
      headEmitted: boolean;
      warnings: unknown[];
    };
    const whole = feed([f.bytes], j.limits, true);
    assert.deepEqual(whole.violations, []);
    assert.deepEqual(whole.error, { code: j.code, status: j.status });
    assert.equal(whole.ended, false);
    assert.equal(whole.head !== null, j.headEmitted, 'onHead before the error?');
    assert.deepEqual(whole.warnings, j.warnings);
    if (j.needsEnd) {
      // Nothing is said before EOF: the worker's deadlines decide (cases 11-14, 23).
      const noEnd = feed([f.bytes], j.limits, false);
      assert.equal(noEnd.error, null);
      assert.equal(noEnd.ended, false);
      assert.equal(whole.terminalAt, -1);
    }
    if (j.reportedBy !== undefined) {
      // The error is out on the byte that shows it, with no more input and no EOF (cases 3-5).
      const prefix = feed([f.bytes.subarray(0, j.reportedBy)], j.limits, false);
      assert.deepEqual(prefix.error, { code: j.code, status: j.status }, `reported within the first ${j.reportedBy} bytes`);
      if (j.reportedBy > 1) {
        const before = feed([f.bytes.subarray(0, j.reportedBy - 1)], j.limits, false);
        assert.equal(before.error, null, `not reported before byte ${j.reportedBy}`);
      }
      const bytewise = feed(Array.from({ length: f.bytes.length }, (_, i) => f.bytes.subarray(i, i + 1)), j.limits, false);
      assert.equal(bytewise.terminalAt, j.reportedBy);
    }
    checkSplits(f, whole);
  });
}
