// The control socket's wire format: framing, an incremental decoder with no IO, and the request/response shapes.
// Not the socket (control/server.ts, control/client.ts) and not the commands (control/commands/*.ts).
//
//   0                   1                   2                   3
//   +-------+-------+-------+-------+-------------------------------------------+
//   |  payload length, uint32 big-endian  |  payload: UTF-8 JSON, `length` bytes |
//   +-------+-------+-------+-------+-------------------------------------------+
//
//   request   {"id": 1, "command": "scale", "args": {"workers": 3}}
//   response  {"id": 1, "ok": true, "result": {"from": 2, "to": 3}}
//             {"id": 1, "ok": false, "error": {"code": "ERR_CONTROL_UNKNOWN_COMMAND", "message": "…", "hint": "…"}}
//
// One frame is one message. A client may send several requests on one connection; responses carry the request's
// `id` (a non-negative integer) and may come back in any order. A frame longer than the receiver's maximum is answered
// with ERR_CONTROL_FRAME_TOO_LARGE (id null) and the connection is closed: the stream cannot be resynchronised without
// reading the whole frame. A frame whose payload is not JSON or not a request gets ERR_CONTROL_BAD_FRAME and the
// connection stays usable, since the length prefix kept the stream in step.

import { ControlError, SupervisorError, type ErrorCode } from '../errors.js';

/** Requests are tiny; 64 KiB leaves room and bounds what a client can make the master buffer. */
export const MAX_REQUEST_FRAME_BYTES = 64 * 1024;
/** Responses can list many workers (`stats` with hundreds of them); the client reads up to this. */
export const MAX_RESPONSE_FRAME_BYTES = 16 * 1024 * 1024;
const HEADER_BYTES = 4;

export interface ControlRequest {
  id: number;
  command: string;
  args: Record<string, unknown>;
}

export interface ErrorData {
  code: ErrorCode | string;
  message: string;
  hint?: string;
}

export type ControlResponse =
  | { id: number | null; ok: true; result: unknown }
  | { id: number | null; ok: false; error: ErrorData };

/** One event out of the decoder: a whole frame's parsed JSON, or a framing error. */
export type DecodedFrame = { type: 'frame'; value: unknown } | { type: 'error'; error: ControlError; fatal: boolean };

export function encodeFrame(message: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(message), 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Push parser: `push(chunk)` returns every frame completed by that chunk. It buffers at most one frame
 * (`maxFrameBytes` + 4). After a fatal error (too large) it returns nothing more: the owner closes the connection.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(maxFrameBytes: number = MAX_REQUEST_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for an incomplete frame (a client that disconnects now left a partial frame). */
  get pendingBytes(): number {
    return this.buffered;
  }

  get isFailed(): boolean {
    return this.failed;
  }

  push(chunk: Buffer): DecodedFrame[] {
    if (this.failed || chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: DecodedFrame[] = [];
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    let offset = 0;
    while (buf.length - offset >= HEADER_BYTES) {
      const length = buf.readUInt32BE(offset);
      // Checked on the length prefix alone, before buffering the payload.
      if (length > this.maxFrameBytes) {
        this.failed = true;
        this.chunks = [];
        this.buffered = 0;
        out.push({
          type: 'error',
          fatal: true,
          error: new ControlError(
            'ERR_CONTROL_FRAME_TOO_LARGE',
            `control frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes}`,
            { hint: 'send one JSON request per frame, each under the limit' },
          ),
        });
        return out;
      }
      if (buf.length - offset - HEADER_BYTES < length) break;
      const payload = buf.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
      offset += HEADER_BYTES + length;
      out.push(parsePayload(payload));
    }
    const rest = buf.length - offset;
    // Copy the tail so a large consumed chunk is not kept alive by a small remainder.
    this.chunks = rest === 0 ? [] : [Buffer.from(buf.subarray(offset))];
    this.buffered = rest;
    return out;
  }
}

function parsePayload(payload: Buffer): DecodedFrame {
  try {
    // TextDecoder with fatal: invalid UTF-8 is a bad frame, not silently replaced characters.
    return { type: 'frame', value: JSON.parse(utf8.decode(payload)) };
  } catch (cause) {
    return {
      type: 'error',
      fatal: false,
      error: new ControlError('ERR_CONTROL_BAD_FRAME', 'control frame is not valid UTF-8 JSON', {
        hint: 'send {"id":1,"command":"stats","args":{}} after a 4-byte big-endian length',
        cause,
      }),
    };
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The id of a frame that failed validation, when it has a usable one, so the error can still be matched. */
export function salvageId(value: unknown): number | null {
  return isPlainObject(value) && isId(value.id) ? value.id : null;
}

/** Checks the request shape; `args` may be omitted (defaults to {}). */
export function parseRequest(value: unknown): ControlRequest | ControlError {
  const bad = (what: string): ControlError =>
    new ControlError('ERR_CONTROL_BAD_FRAME', `control request ${what}`, {
      hint: 'a request is {"id": <integer>, "command": "<name>", "args": {…}}',
    });
  if (!isPlainObject(value)) return bad('is not a JSON object');
  if (!isId(value.id)) return bad('has no integer "id"');
  if (typeof value.command !== 'string' || value.command.length === 0) return bad('has no "command" string');
  if (value.args !== undefined && !isPlainObject(value.args)) return bad('has "args" that is not an object');
  return { id: value.id, command: value.command, args: value.args ?? {} };
}

/** Checks the response shape (client side). */
export function parseResponse(value: unknown): ControlResponse | ControlError {
  const bad = (what: string): ControlError =>
    new ControlError('ERR_CONTROL_BAD_FRAME', `control response ${what}`, {
      hint: 'the supervisor at this path may be a different version; restart it',
    });
  if (!isPlainObject(value)) return bad('is not a JSON object');
  const id = value.id === null ? null : isId(value.id) ? value.id : undefined;
  if (id === undefined) return bad('has no "id"');
  if (value.ok === true) return { id, ok: true, result: value.result };
  if (value.ok !== false) return bad('has no boolean "ok"');
  const error = value.error;
  if (!isPlainObject(error) || typeof error.code !== 'string' || typeof error.message !== 'string') {
    return bad('has an "error" without code and message');
  }
  const data: ErrorData = { code: error.code, message: error.message };
  if (typeof error.hint === 'string') data.hint = error.hint;
  return { id, ok: false, error: data };
}

/** Error data for the wire from anything thrown by a command. */
export function errorData(err: unknown): ErrorData {
  if (err instanceof SupervisorError) return err.toJSON();
  const message = err instanceof Error ? err.message : String(err);
  return {
    code: 'ERR_INTERNAL',
    message: `control command failed: ${message}`,
    hint: 'this is a bug in scgi-supervise; please report it with the log',
  };
}

/** A ControlError rebuilt on the client from error data that came over the wire. */
export function errorFromData(data: ErrorData): ControlError {
  return new ControlError(data.code as ErrorCode, data.message, data.hint === undefined ? {} : { hint: data.hint });
}
