// CONTRACT STUB: the protocol helper replaces the body of this file; the exported names and signatures are fixed.
//
// RequestParser: an SCGI push parser with no IO. Bytes in (push), events out (the sink's callbacks):
//   onHead once, when the header netstring and its comma are complete and valid;
//   onBody zero or more times (subarrays of the pushed chunks, never copied), exactly CONTENT_LENGTH bytes in all;
//   onEnd once, right after the last body byte (immediately after onHead when CONTENT_LENGTH is 0);
//   onError at most once, and then nothing else is ever emitted; status null means silent-close.
// Bytes after the body are counted in `extraBytes` and otherwise ignored (never a second request: case 24).
// end() tells the parser the peer sent EOF: before any byte → onError(silent); mid-header → onError(silent);
// mid-body → onError(ERR_SCGI_TRUNCATED_BODY, status null) (case 23).

import type { ProtocolError } from './errors.js';
import type { ProtocolLimits } from './limits.js';

export interface RequestHead {
  /** Body length from CONTENT_LENGTH (decimal, leading zeros allowed, never octal). */
  contentLength: number;
  /**
   * Every parameter in arrival order, names and values decoded as latin1 (byte-exact, like node:http headers).
   * A null-prototype object. Duplicate HTTP_* names are merged (HTTP_COOKIE with "; ", others with ", ").
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

export class RequestParser {
  state: ParserState = 'length';
  /** Bytes received after the body (ignored). */
  extraBytes = 0;
  /** Bytes received in all (for the drain cap and logs). */
  bytesReceived = 0;

  constructor(_sink: ParserSink, _limits?: Partial<ProtocolLimits>) {}

  push(_chunk: Buffer): void {
    throw new Error('not implemented');
  }

  end(): void {
    throw new Error('not implemented');
  }
}
