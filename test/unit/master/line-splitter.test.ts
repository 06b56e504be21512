// LineSplitter: the same lines however the bytes are split (every offset, byte by byte), parts past the limit cut
// between UTF-8 characters and marked, CRLF, and a last line without its newline.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from '../../../src/master/line-splitter.js';

type Out = [line: string, part: number, more: boolean];

function run(chunks: Buffer[], max?: number): Out[] {
  const out: Out[] = [];
  const s = new LineSplitter((line, part, more) => out.push([line, part, more]), max);
  for (const c of chunks) s.push(c);
  s.end();
  return out;
}

test('whole lines, whatever the split', () => {
  const text = Buffer.from('one\ntwo words\r\n\nthré€ 🙂\nlast without newline');
  const expected: Out[] = [['one', 0, false], ['two words', 0, false], ['', 0, false], ['thré€ 🙂', 0, false], ['last without newline', 0, false]];
  assert.deepEqual(run([text]), expected);
  for (let at = 0; at <= text.length; at++) assert.deepEqual(run([text.subarray(0, at), text.subarray(at)]), expected, `split at ${at}`);
  assert.deepEqual(run([...text].map((b) => Buffer.from([b]))), expected, 'byte by byte');
});

test('a line past the limit comes out in parts of at most the limit, never cutting a character', () => {
  const line = 'ab€'.repeat(10); // 5 bytes each: a 3-byte € straddles many cut points
  const buf = Buffer.from(line + '\nnext\n');
  for (let at = 0; at <= buf.length; at++) {
    const out = run([buf.subarray(0, at), buf.subarray(at)], 8);
    const parts = out.filter(([, part]) => part > 0);
    assert.equal(parts.map(([l]) => l).join(''), line, `split at ${at}`);
    for (const [l] of parts) assert.ok(Buffer.byteLength(l) <= 8 && Buffer.byteLength(l) > 0, `part ${JSON.stringify(l)}`);
    assert.deepEqual(parts.map(([, p, m]) => [p, m]), parts.map((_, i) => [i + 1, i < parts.length - 1]));
    assert.deepEqual(out.at(-1), ['next', 0, false], 'the next line is whole again');
  }
});

test('a line exactly at the limit is whole; an unfinished long line is closed at the end', () => {
  assert.deepEqual(run([Buffer.from('12345678\n')], 8), [['12345678', 0, false]]);
  assert.deepEqual(run([Buffer.from('123456789')], 8), [['12345678', 1, true], ['9', 2, false]]);
  assert.deepEqual(run([Buffer.from('1234567812345678')], 8), [['12345678', 1, true], ['12345678', 2, false]]);
});
