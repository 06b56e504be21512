// Randomized robustness of RequestParser: 2000 mutated fixtures and random byte strings, cut at random, never throw
// out of push()/end() and always end in exactly one of onEnd/onError (with the sink contract intact).
// Deterministic (seeded), so a failure names the seed and the input to replay.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../../helpers/paths.js';
import { feed, prng, split } from './parser-harness.js';

const INPUTS = 2000;

function corpus(): Buffer[] {
  const out: Buffer[] = [];
  for (const kind of ['valid', 'invalid']) {
    const dir = join(FIXTURES, 'scgi', kind);
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.scgi')) out.push(readFileSync(join(dir, f)));
  }
  return out;
}

function mutate(random: () => number, base: Buffer): Buffer {
  const int = (n: number) => Math.floor(random() * n);
  const bytes = Buffer.from(base);
  switch (int(7)) {
    case 0: {
      // flip a few bytes, biased to the interesting ones
      const special = [0x00, 0x2c, 0x3a, 0x30, 0x39, 0xff, 0x41];
      for (let i = int(4) + 1; i > 0 && bytes.length > 0; i--) bytes[int(bytes.length)] = random() < 0.5 ? special[int(special.length)]! : int(256);
      return bytes;
    }
    case 1:
      return bytes.subarray(0, int(bytes.length + 1)); // truncate
    case 2: {
      const at = int(bytes.length + 1);
      const junk = Buffer.from(Array.from({ length: int(20) + 1 }, () => int(256)));
      return Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
    }
    case 3: {
      const a = int(bytes.length + 1);
      const b = a + int(bytes.length - a + 1);
      return Buffer.concat([bytes.subarray(0, a), bytes.subarray(b)]); // delete a range
    }
    case 4: {
      const a = int(bytes.length + 1);
      const b = a + int(Math.min(64, bytes.length - a) + 1);
      return Buffer.concat([bytes.subarray(0, b), bytes.subarray(a, b), bytes.subarray(b)]); // duplicate a range
    }
    case 5:
      return Buffer.from(Array.from({ length: int(200) }, () => int(256))); // noise
    default: {
      // a plausible length prefix followed by noise with NULs
      const body = Buffer.from(Array.from({ length: int(300) }, () => (random() < 0.2 ? 0 : 0x20 + int(95))));
      const claimed = random() < 0.5 ? body.length : int(400);
      return Buffer.concat([Buffer.from(`${claimed}:`), body, Buffer.from(random() < 0.8 ? ',' : ';'), body.subarray(0, int(20))]);
    }
  }
}

test(`${INPUTS} random and mutated inputs never throw and end in exactly one of onEnd/onError`, () => {
  const base = corpus();
  assert.ok(base.length > 50);
  const outcomes = { ended: 0, errors: 0 };
  for (let seed = 1; seed <= INPUTS; seed++) {
    const random = prng(seed);
    const input = mutate(random, base[Math.floor(random() * base.length)]!);
    const cuts = new Set<number>();
    for (let i = Math.floor(random() * 6); i > 0 && input.length > 1; i--) cuts.add(1 + Math.floor(random() * (input.length - 1)));
    const limits =
      random() < 0.2 ? { maxHeaderBytes: 1 + Math.floor(random() * 400), maxHeaderCount: 1 + Math.floor(random() * 10), maxBodyBytes: Math.floor(random() * 50), strict: random() < 0.5 } : undefined;
    const where = `seed ${seed}, input ${input.toString('hex')}`;
    let o;
    try {
      o = feed(split(input, [...cuts].sort((a, b) => a - b)), limits, true);
    } catch (err) {
      assert.fail(`threw (${where}): ${String(err)}`);
    }
    assert.deepEqual(o.violations, [], where);
    assert.equal(Number(o.ended) + Number(o.error !== null), 1, `exactly one terminal event (${where})`);
    assert.equal(o.bytesReceived, input.length, where);
    if (o.ended) {
      assert.ok(o.head, where);
      assert.equal(Buffer.byteLength(o.body, 'latin1'), o.head.contentLength, where);
      assert.ok(o.extraBytes >= 0 && o.extraBytes <= input.length, where);
      outcomes.ended++;
    } else {
      outcomes.errors++;
    }
  }
  // The generator must reach both outcomes, or this test proves little.
  assert.ok(outcomes.ended > 50 && outcomes.errors > 500, JSON.stringify(outcomes));
});
