// protocol/ owns SCGI as bytes in, objects out (docs/protocol.md): no sockets, files, processes or timers.
// RequestParser: an SCGI push parser with no IO. Bytes in (push), events out (the sink's callbacks):
//   onHead once, when the header netstring and its comma are complete and valid;
//   onBody zero or more times (subarrays of the pushed chunks, never copied), exactly CONTENT_LENGTH bytes in all;
//   onEnd once, right after the last body byte (immediately after onHead when CONTENT_LENGTH is 0);
//   onError at most once, and then nothing else is ever emitted; status null means silent-close.
// Bytes after the body are counted in `extraBytes` and otherwise ignored (never a second request: case 24).
// end() tells the parser the peer sent EOF: before any byte → onError(silent); mid-header → onError(silent);
// mid-body → onError(ERR_SCGI_TRUNCATED_BODY, status null) (case 23).
// Not here: the block's pairs (header-block.ts); deadlines (cases 13-14) and draining (case 25) live in worker/;
// responses in response-writer.ts.

import type { ErrorCode } from '../errors.js';
import { ProtocolError, type ProtocolStatus } from './errors.js';
import { DEFAULT_LIMITS, type ProtocolLimits } from './limits.js';
import { parseDecimal, parseHeaderBlock } from './header-block.js';

export interface RequestHead {
  /** Body length from CONTENT_LENGTH (decimal, leading zeros allowed, never octal). */
  contentLength: number;
  /**
   * Every parameter in arrival order, names and values decoded as latin1 (byte-exact, like node:http headers).
   * An object with nothing inherited (see header-block.ts). Duplicate HTTP_* names are merged (HTTP_COOKIE with "; ", others with ", ").
   */
  params: Record<string, string>;
  /** REQUEST_METHOD and REQUEST_URI, checked present and non-empty (else onError status 500, case 19). */
  method: string;
  uri: string;
}

export type ParserWarning =
  | { type: 'missing-scgi' } // no SCGI=1: nginx without `include scgi_params` (case 19); warn once per worker
  | { type: 'content-length-mismatch'; contentLength: number; httpContentLength: string }; // case 21

export interface ParserSink {
  onHead(head: RequestHead): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
  onError(error: ProtocolError): void;
  onWarning?(warning: ParserWarning): void;
}

export type ParserState = 'length' | 'headers' | 'comma' | 'body' | 'done' | 'failed';

const COLON = 0x3a;
const COMMA = 0x2c;
/** "more than 7 digits" is over any sane header limit (docs/protocol.md case 5), whatever maxHeaderBytes says. */
const MAX_LENGTH_DIGITS = 7;

export class RequestParser {
  state: ParserState = 'length';
  /** Bytes received after the body (ignored). */
  extraBytes = 0;
  /** Bytes received in all (for the drain cap and logs). */
  bytesReceived = 0;
  /**
   * CONTENT_LENGTH once the block is parsed, -1 before. Also set when it was refused with 413, so the worker
   * knows how much to drain after answering (case 25).
   */
  contentLength = -1;

  private readonly sink: ParserSink;
  private readonly maxHeaderBytes: number;
  private readonly maxHeaderCount: number;
  private readonly maxBodyBytes: number;
  private readonly strict: boolean;
  /** The netstring length: accumulated digit by digit in 'length', then the announced block size. */
  private headerLength = 0;
  private lengthDigits = 0;
  /** Only when the block arrives split across chunks: one buffer of the announced length, filled in place. */
  private block: Buffer | null = null;
  private blockFilled = 0;
  private bodyRemaining = 0;

  constructor(sink: ParserSink, limits?: Partial<ProtocolLimits>) {
    this.sink = sink;
    this.maxHeaderBytes = limits?.maxHeaderBytes ?? DEFAULT_LIMITS.maxHeaderBytes;
    this.maxHeaderCount = limits?.maxHeaderCount ?? DEFAULT_LIMITS.maxHeaderCount;
    this.maxBodyBytes = limits?.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes;
    this.strict = limits?.strict ?? DEFAULT_LIMITS.strict;
  }

  push(chunk: Buffer): void {
    const end = chunk.length;
    this.bytesReceived += end;
    let pos = 0;
    while (pos < end) {
      switch (this.state) {
        case 'length':
          pos = this.readLength(chunk, pos);
          break;
        case 'headers':
          pos = this.readBlock(chunk, pos);
          break;
        case 'comma':
          pos = this.readComma(chunk, pos);
          break;
        case 'body':
          pos = this.readBody(chunk, pos);
          break;
        case 'done':
          this.extraBytes += end - pos;
          return;
        case 'failed':
          return;
        default:
          return assertNever(this.state);
      }
    }
  }

  end(): void {
    switch (this.state) {
      case 'length':
        if (this.bytesReceived === 0) {
          // Apache connects before answering a chunked request with 411 itself; health checks do the same (case 12).
          return this.fail('ERR_SCGI_EMPTY_REQUEST', null, 'connection closed before any byte was sent');
        }
        return this.fail('ERR_SCGI_TRUNCATED_HEADER', null, 'connection closed inside the netstring length');
      case 'headers':
      case 'comma':
        return this.fail('ERR_SCGI_TRUNCATED_HEADER', null, 'connection closed inside the header block');
      case 'body':
        return this.fail(
          'ERR_SCGI_TRUNCATED_BODY',
          null,
          `connection closed with ${this.bodyRemaining} of ${this.contentLength} body bytes missing`,
        );
      case 'done':
      case 'failed':
        return;
      default:
        return assertNever(this.state);
    }
  }

  /** The netstring length, byte by byte, so a bad byte fails at once (cases 2-6), before anything is buffered. */
  private readLength(chunk: Buffer, pos: number): number {
    const end = chunk.length;
    let value = this.headerLength;
    let digits = this.lengthDigits;
    while (pos < end) {
      const c = chunk[pos++]!;
      if (c >= 0x30 && c <= 0x39) {
        // "Extra zeros at the front of [len] are prohibited"
        if (digits === 1 && value === 0) return this.failAt(400, 'ERR_SCGI_BAD_NETSTRING', 'netstring length has a leading zero');
        value = value * 10 + (c - 0x30);
        digits++;
        if (digits > MAX_LENGTH_DIGITS || value > this.maxHeaderBytes) {
          return this.failAt(
            431,
            'ERR_SCGI_HEADER_TOO_LARGE',
            `header netstring announces more than ${this.maxHeaderBytes} bytes`,
            'raise maxHeaderBytes if the front end legitimately sends such large header blocks',
          );
        }
      } else if (c === COLON && digits > 0) {
        if (value === 0) {
          return this.failAt(400, 'ERR_SCGI_MISSING_CONTENT_LENGTH', 'empty header block (0:,): CONTENT_LENGTH is missing');
        }
        this.headerLength = value;
        this.state = 'headers';
        return pos;
      } else {
        return this.failAt(
          400,
          'ERR_SCGI_BAD_NETSTRING',
          c === 0 && digits === 0
            ? 'request starts with a NUL byte: not SCGI (uwsgi framing? check scgi.protocol in lighttpd)'
            : `unexpected byte 0x${c.toString(16).padStart(2, '0')} in the netstring length`,
        );
      }
    }
    this.headerLength = value;
    this.lengthDigits = digits;
    return pos;
  }

  private readBlock(chunk: Buffer, pos: number): number {
    const end = chunk.length;
    const len = this.headerLength;
    if (this.block === null) {
      // Common case: the whole block and its comma in this chunk; parse it in place, copy nothing.
      if (end - pos > len) {
        const stop = pos + len;
        if (chunk[stop] !== COMMA) return this.missingComma();
        this.parseBlock(chunk, pos, stop);
        return stop + 1;
      }
      this.block = Buffer.allocUnsafe(len);
      this.blockFilled = 0;
    }
    const take = Math.min(len - this.blockFilled, end - pos);
    chunk.copy(this.block, this.blockFilled, pos, pos + take);
    this.blockFilled += take;
    if (this.blockFilled === len) this.state = 'comma';
    return pos + take;
  }

  private readComma(chunk: Buffer, pos: number): number {
    if (chunk[pos] !== COMMA) return this.missingComma();
    const block = this.block!;
    this.block = null;
    this.parseBlock(block, 0, block.length);
    return pos + 1;
  }

  private missingComma(): number {
    // "Do not resync": a wrong length means we cannot know where anything is.
    return this.failAt(400, 'ERR_SCGI_BAD_NETSTRING', 'header netstring is not followed by a comma');
  }

  /** The block in buf[start, stop) and its meaning; on success emits onHead (and onEnd for an empty body). */
  private parseBlock(buf: Buffer, start: number, stop: number): void {
    const params = parseHeaderBlock(buf, start, stop, this.maxHeaderCount, this.strict);
    if (params instanceof ProtocolError) {
      this.state = 'failed';
      this.sink.onError(params);
      return;
    }
    const clText = params.CONTENT_LENGTH!; // present and first: parseHeaderBlock checked
    const contentLength = parseDecimal(clText);
    if (contentLength === -1) {
      return this.fail('ERR_SCGI_BAD_CONTENT_LENGTH', 400, `CONTENT_LENGTH ${JSON.stringify(clText)} is not a decimal number`);
    }
    this.contentLength = contentLength === -2 ? Number.MAX_SAFE_INTEGER : contentLength;
    if (contentLength === -2 || contentLength > this.maxBodyBytes) {
      // Reported at head time, before any body byte, so the worker can answer 413 and drain (cases 18, 25).
      return this.fail(
        'ERR_SCGI_BODY_TOO_LARGE',
        413,
        `CONTENT_LENGTH ${clText} is over the limit of ${this.maxBodyBytes} bytes`,
        'raise maxBodyBytes if such bodies are legitimate',
      );
    }
    if (params.SCGI !== '1') {
      if (this.strict) return this.fail('ERR_SCGI_MISSING_SCGI', 400, 'SCGI=1 is missing', 'add `include scgi_params` to the front end');
      this.sink.onWarning?.({ type: 'missing-scgi' });
    }
    const method = params.REQUEST_METHOD;
    const uri = params.REQUEST_URI;
    if (method === undefined || method === '' || uri === undefined || uri === '') {
      return this.fail(
        'ERR_SCGI_MISSING_REQUEST_VARS',
        500,
        `${method ? 'REQUEST_URI' : 'REQUEST_METHOD'} is missing or empty`,
        'the front end does not send the CGI variables: add `include scgi_params` (nginx) to the location',
      );
    }
    // The body length comes only from CONTENT_LENGTH; a disagreeing HTTP_CONTENT_LENGTH without TE is the
    // nginx < 1.29.6 unbuffered bug (CONTENT_LENGTH 9062, then 1 MiB of body): worth a warning (case 21).
    const httpContentLength = params.HTTP_CONTENT_LENGTH;
    if (
      httpContentLength !== undefined &&
      httpContentLength !== clText &&
      params.HTTP_TRANSFER_ENCODING === undefined &&
      parseDecimal(httpContentLength) !== contentLength
    ) {
      this.sink.onWarning?.({ type: 'content-length-mismatch', contentLength, httpContentLength });
    }
    if (contentLength === 0) {
      this.state = 'done';
      this.sink.onHead({ contentLength, params, method, uri });
      this.sink.onEnd(); // no body to wait for (case 26)
    } else {
      this.state = 'body';
      this.bodyRemaining = contentLength;
      this.sink.onHead({ contentLength, params, method, uri });
    }
  }

  private readBody(chunk: Buffer, pos: number): number {
    const available = chunk.length - pos;
    const remaining = this.bodyRemaining;
    if (available < remaining) {
      this.bodyRemaining = remaining - available;
      this.sink.onBody(pos === 0 ? chunk : chunk.subarray(pos));
      return chunk.length;
    }
    // Complete at exactly header_end + CONTENT_LENGTH: no EOF needed (case 27).
    this.bodyRemaining = 0;
    this.state = 'done';
    this.sink.onBody(pos === 0 && available === remaining ? chunk : chunk.subarray(pos, pos + remaining));
    this.sink.onEnd();
    return pos + remaining;
  }

  private failAt(status: ProtocolStatus, code: ErrorCode, message: string, hint?: string): number {
    this.fail(code, status, message, hint);
    return Number.MAX_SAFE_INTEGER; // ends push()'s loop
  }

  private fail(code: ErrorCode, status: ProtocolStatus, message: string, hint?: string): void {
    this.state = 'failed';
    this.block = null;
    this.sink.onError(new ProtocolError(code, status, message, hint === undefined ? {} : { hint }));
  }
}

function assertNever(state: never): never {
  throw new Error(`unreachable parser state ${String(state)}`);
}
