// The control frame decoder (control/protocol.ts): frames fed whole, byte by byte and split at every offset give the
// same messages; limits and bad payloads give typed errors. No sockets here (server.test.ts has those).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameDecoder,
  encodeFrame,
  parseRequest,
  parseResponse,
  salvageId,
  errorData,
  type DecodedFrame,
} from '../../../src/control/protocol.js';
import { ControlError, SupervisorError } from '../../../src/errors.js';

const MESSAGES = [
  { id: 1, command: 'stats', args: {} },
  { id: 2, command: 'scale', args: { workers: 3 } },
  { id: 3, command: 'reload', args: { note: 'ünïcødé ✓ 🚀' } },
  { id: 4, command: 'x'.repeat(3000), args: {} },
];
const STREAM = Buffer.concat(MESSAGES.map((m) => encodeFrame(m)));

function values(events: DecodedFrame[]): unknown[] {
  return events.map((e) => {
    assert.equal(e.type, 'frame', e.type === 'error' ? e.error.message : '');
    return (e as { value: unknown }).value;
  });
}

test('encodeFrame writes a 4-byte big-endian length before the UTF-8 JSON', () => {
  const frame = encodeFrame({ a: 'é' });
  const json = Buffer.from('{"a":"é"}', 'utf8');
  assert.equal(frame.readUInt32BE(0), json.length);
  assert.deepEqual(frame.subarray(4), json);
});

test('a stream of frames fed whole decodes to the messages', () => {
  assert.deepEqual(values(new FrameDecoder().push(STREAM)), MESSAGES);
});

test('fed byte by byte, the same messages come out and nothing is held afterwards', () => {
  const d = new FrameDecoder();
  const out: DecodedFrame[] = [];
  for (let i = 0; i < STREAM.length; i++) out.push(...d.push(STREAM.subarray(i, i + 1)));
  assert.deepEqual(values(out), MESSAGES);
  assert.equal(d.pendingBytes, 0);
});

test('split in two at every offset, the same messages come out', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    const d = new FrameDecoder();
    const out = [...d.push(STREAM.subarray(0, i)), ...d.push(STREAM.subarray(i))];
    assert.deepEqual(values(out), MESSAGES, `split at ${i}`);
    assert.equal(d.pendingBytes, 0);
  }
});

test('a partial frame is held (and counted) until the rest arrives', () => {
  const frame = encodeFrame(MESSAGES[1]);
  const d = new FrameDecoder();
  assert.deepEqual(d.push(frame.subarray(0, 6)), []);
  assert.equal(d.pendingBytes, 6);
  assert.deepEqual(values(d.push(frame.subarray(6))), [MESSAGES[1]]);
});

test('a length over the maximum is a fatal ERR_CONTROL_FRAME_TOO_LARGE from the prefix alone', () => {
  const d = new FrameDecoder(100);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(101);
  const events = d.push(header); // no payload sent: the decision must not wait for it
  assert.equal(events.length, 1);
  const e = events[0]!;
  assert.equal(e.type, 'error');
  assert.ok(e.type === 'error' && e.fatal && e.error.code === 'ERR_CONTROL_FRAME_TOO_LARGE');
  assert.equal(d.isFailed, true);
  assert.deepEqual(d.push(encodeFrame(MESSAGES[0])), [], 'nothing after a fatal error');
  assert.equal(d.pendingBytes, 0);
});

test('a frame of exactly the maximum is accepted', () => {
  const payload = JSON.stringify({ id: 1, command: 'stats', args: { pad: '' } });
  const max = payload.length + 50;
  const msg = { id: 1, command: 'stats', args: { pad: 'p'.repeat(50) } };
  assert.equal(encodeFrame(msg).length - 4, max);
  assert.deepEqual(values(new FrameDecoder(max).push(encodeFrame(msg))), [msg]);
});

test('an HTTP request sent by mistake is too large (its first bytes read as a huge length)', () => {
  const events = new FrameDecoder().push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  assert.equal(events.length, 1);
  assert.ok(events[0]!.type === 'error' && events[0]!.error.code === 'ERR_CONTROL_FRAME_TOO_LARGE');
});

test('bad JSON and invalid UTF-8 are non-fatal ERR_CONTROL_BAD_FRAME; the next frame still decodes', () => {
  const bad = (payload: Buffer): Buffer => {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(payload.length);
    return Buffer.concat([h, payload]);
  };
  const stream = Buffer.concat([
    bad(Buffer.from('{not json')),
    bad(Buffer.from([0x22, 0xff, 0xfe, 0x22])), // "\xff\xfe": a JSON string of invalid UTF-8
    bad(Buffer.alloc(0)),
    encodeFrame(MESSAGES[0]),
  ]);
  const events = new FrameDecoder().push(stream);
  assert.deepEqual(
    events.map((e) => (e.type === 'error' ? `${e.error.code}:${e.fatal}` : 'frame')),
    ['ERR_CONTROL_BAD_FRAME:false', 'ERR_CONTROL_BAD_FRAME:false', 'ERR_CONTROL_BAD_FRAME:false', 'frame'],
  );
});

test('parseRequest accepts the documented shape and defaults args to {}', () => {
  assert.deepEqual(parseRequest({ id: 0, command: 'stats' }), { id: 0, command: 'stats', args: {} });
  assert.deepEqual(parseRequest({ id: 7, command: 'scale', args: { workers: 2 } }), {
    id: 7,
    command: 'scale',
    args: { workers: 2 },
  });
});

test('parseRequest refuses every other shape with ERR_CONTROL_BAD_FRAME', () => {
  const bad: unknown[] = [
    null,
    42,
    'stats',
    [],
    {},
    { command: 'stats' },
    { id: -1, command: 'stats' },
    { id: 1.5, command: 'stats' },
    { id: '1', command: 'stats' },
    { id: 1 },
    { id: 1, command: '' },
    { id: 1, command: 7 },
    { id: 1, command: 'scale', args: [3] },
    { id: 1, command: 'scale', args: 'x' },
    { id: 1, command: 'scale', args: null },
  ];
  for (const value of bad) {
    const r = parseRequest(value);
    assert.ok(r instanceof ControlError, JSON.stringify(value));
    assert.equal(r.code, 'ERR_CONTROL_BAD_FRAME');
  }
  assert.equal(salvageId({ id: 5, command: 7 }), 5);
  assert.equal(salvageId({ id: 'x' }), null);
  assert.equal(salvageId([1]), null);
});

test('parseResponse reads ok and error responses and refuses malformed ones', () => {
  assert.deepEqual(parseResponse({ id: 1, ok: true, result: { a: 1 } }), { id: 1, ok: true, result: { a: 1 } });
  assert.deepEqual(parseResponse({ id: null, ok: false, error: { code: 'ERR_X', message: 'm', hint: 'h' } }), {
    id: null,
    ok: false,
    error: { code: 'ERR_X', message: 'm', hint: 'h' },
  });
  for (const value of [{}, { id: 1 }, { id: 1, ok: 'yes' }, { id: 1, ok: false, error: { code: 'E' } }, { ok: true }]) {
    const r = parseResponse(value);
    assert.ok(r instanceof ControlError && r.code === 'ERR_CONTROL_BAD_FRAME', JSON.stringify(value));
  }
});

test('errorData keeps a SupervisorError\'s code and hint and turns anything else into ERR_INTERNAL', () => {
  assert.deepEqual(errorData(new SupervisorError('ERR_RELOAD_IN_PROGRESS', 'busy', { hint: 'wait' })), {
    code: 'ERR_RELOAD_IN_PROGRESS',
    message: 'busy',
    hint: 'wait',
  });
  assert.equal(errorData(new TypeError('x is undefined')).code, 'ERR_INTERNAL');
  assert.equal(errorData('a string').code, 'ERR_INTERNAL');
});
