// header-block: parseDecimal's edges (the fixtures cover the block rules through RequestParser).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDecimal, parseHeaderBlock } from '../../../src/protocol/header-block.js';
import { ProtocolError } from '../../../src/protocol/errors.js';

test('parseDecimal: ASCII digits only, leading zeros decimal, digit-count guard instead of parseInt', () => {
  const cases: Array<[string, number]> = [
    ['0', 0],
    ['10', 10],
    ['010', 10],
    ['0000000000000000000000000001', 1],
    ['999999999999999', 999_999_999_999_999],
    ['9007199254740991', -2], // 16 significant digits: refused as too large (413), never rounded
    ['99999999999999999999', -2],
    ['99999999999999999999x', -1], // still a 400 when a bad byte comes after many digits
    ['', -1],
    ['12a', -1],
    ['-1', -1],
    ['+5', -1],
    [' 5', -1],
    ['5 ', -1],
    ['0x10', -1],
    ['1e3', -1],
    ['1.0', -1],
    ['١٢', -1],
    ['\uff11', -1], // fullwidth digit one
  ];
  for (const [text, expected] of cases) assert.equal(parseDecimal(text), expected, JSON.stringify(text));
});

test('parseHeaderBlock returns an object with nothing inherited, in arrival order, or a ProtocolError', () => {
  const block = Buffer.from('CONTENT_LENGTH\x000\x00B\x002\x00A\x001\x00', 'latin1');
  const params = parseHeaderBlock(block, 0, block.length, 10, false);
  assert.ok(!(params instanceof ProtocolError));
  assert.equal(Object.getPrototypeOf(Object.getPrototypeOf(params)), null, 'one empty prototype, then null');
  assert.deepEqual(Reflect.ownKeys(Object.getPrototypeOf(params)), []);
  assert.deepEqual(Object.entries(params), [['CONTENT_LENGTH', '0'], ['B', '2'], ['A', '1']]);
  // Offsets inside a larger buffer are honoured (the parser decodes in place from the pushed chunk).
  const framed = Buffer.concat([Buffer.from('25:'), block, Buffer.from(',body')]);
  assert.deepEqual(Object.entries(parseHeaderBlock(framed, 3, 3 + block.length, 10, false)), Object.entries(params));
  const err = parseHeaderBlock(block, 0, block.length - 1, 10, false);
  assert.ok(err instanceof ProtocolError && err.code === 'ERR_SCGI_BAD_HEADER' && err.status === 400);
});

test('parameter names like __proto__, constructor and toString are plain own keys', () => {
  const block = Buffer.from('CONTENT_LENGTH\x000\x00__proto__\x00x\x00constructor\x00c\x00toString\x00t\x00', 'latin1');
  const params = parseHeaderBlock(block, 0, block.length, 10, false);
  assert.ok(!(params instanceof ProtocolError));
  assert.deepEqual(Object.keys(params), ['CONTENT_LENGTH', '__proto__', 'constructor', 'toString']);
  assert.equal(params['__proto__'], 'x');
  assert.equal(typeof Object.getPrototypeOf(params), 'object', 'the prototype was not replaced');
  assert.equal(params.constructor, 'c');
});

test('blocks parsed one after another give what each gives alone, whatever the last block held (name reuse)', () => {
  const blocks = [
    ['CONTENT_LENGTH', '0', 'HTTP_X', '1', 'HTTP_X_LONG', '2', 'SCGI', '1'],
    ['CONTENT_LENGTH', '0', 'HTTP_X_LONG', 'a', 'HTTP_X', 'b', 'SCGI', '1'], // same names, other order
    ['CONTENT_LENGTH', '0', 'HTTP_X', '1'], // a prefix of the first
    ['CONTENT_LENGTH', '0', 'HTTP_X', '1', 'HTTP_X_LONG', '2', 'SCGI', '1', 'EXTRA', '3'], // longer
    ['CONTENT_LENGTH', '0', 'HTTP_X', '1', 'HTTP_X', '2', 'SCGI', '1'], // a merged duplicate
    ['CONTENT_LENGTH', '0', 'HTTP_', '1', 'HTTP_X\x01', '2', 'SCGI', '1'], // names the last ones start
    ['CONTENT_LENGTH', '0', '7', 'seven', 'HTTP_X', '1'], // an integer-like name (sorted first as a key)
    ['CONTENT_LENGTH', '0', 'HTTP_X', '1', 'HTTP_X_LONG', '2', 'SCGI', '1'],
    ['CONTENT_LENGTH', '0', 'HTTP_X', '1', '', '2'], // bad: an empty name where a known one was
    ['CONTENT_LENGTH', '0', 'HTTP_X', '1', 'HTTP_X_LONG', '2', 'SCGI', '1'],
  ];
  const encode = (pairs: string[]) => Buffer.from(pairs.map((s) => s + '\0').join(''), 'latin1');
  const describe = (r: ReturnType<typeof parseHeaderBlock>) => (r instanceof ProtocolError ? r.code : Object.entries(r));
  const alone = blocks.map((pairs) => {
    // Reset the remembered names to something unrelated before each, so each result is a first parse.
    parseHeaderBlock(encode(['CONTENT_LENGTH', '0', 'Q', 'q']), 0, encode(['CONTENT_LENGTH', '0', 'Q', 'q']).length, 50, false);
    const b = encode(pairs);
    return describe(parseHeaderBlock(b, 0, b.length, 50, false));
  });
  for (let round = 0; round < 3; round++) {
    blocks.forEach((pairs, i) => {
      const b = encode(pairs);
      assert.deepEqual(describe(parseHeaderBlock(b, 0, b.length, 50, false)), alone[i], `block ${i}, round ${round}`);
    });
  }
  assert.deepEqual(alone[4], [['CONTENT_LENGTH', '0'], ['HTTP_X', '1, 2'], ['SCGI', '1']]);
  assert.equal(alone[8], 'ERR_SCGI_BAD_HEADER');
});
