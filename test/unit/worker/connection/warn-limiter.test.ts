// WarnLimiter (bursts, then one summary line) and hexEscape (first bytes of a bad request, log-safe).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../../../../src/log.js';
import { WarnLimiter, hexEscape } from '../../../../src/worker/connection/warn-limiter.js';

test('at most `burst` warnings per window, then a summary of the suppressed ones', () => {
  const lines: string[] = [];
  const log = { warn: (_fields: unknown, msg: string) => lines.push(msg) } as unknown as Logger;
  let now = 1000;
  const limiter = new WarnLimiter(log, 3, 10_000, () => now);
  for (let i = 0; i < 10; i++) limiter.warn({}, `w${i}`);
  assert.deepEqual(lines, ['w0', 'w1', 'w2']);
  now += 10_000;
  limiter.warn({}, 'next');
  assert.deepEqual(lines.slice(3), ['suppressed 7 similar warnings', 'next']);
});

test('hexEscape keeps printable ASCII and escapes the rest, up to 64 bytes', () => {
  assert.equal(hexEscape(Buffer.from('70:CONTENT_LENGTH\x000\x00')), '70:CONTENT_LENGTH\\x000\\x00');
  assert.equal(hexEscape(Buffer.from([0x5c, 0x0d, 0x0a, 0xff])), '\\x5c\\x0d\\x0a\\xff');
  assert.equal(hexEscape(Buffer.alloc(100, 0x41)).length, 64);
});
