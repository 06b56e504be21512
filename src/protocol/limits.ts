// Limits and deadlines of the protocol layer, with the defaults docs/protocol.md explains ("Limits and deadlines").
// The parser enforces the byte limits; worker/connection/serve.ts enforces the time limits (the protocol layer has no timers).

export interface ProtocolLimits {
  /** Largest header netstring accepted (the length prefix is checked before buffering: 431 above it). */
  maxHeaderBytes: number;
  /** Largest number of name/value pairs in one header block (431 above it). */
  maxHeaderCount: number;
  /** Largest CONTENT_LENGTH accepted (413 above it, answered before reading the body). */
  maxBodyBytes: number;
  /**
   * strict: also reject a missing/invalid SCGI=1 (default: a warning) and every duplicate name (default: HTTP_* merged).
   * CONTENT_LENGTH not first is rejected in both modes (docs/protocol.md case 16).
   */
  strict: boolean;
}

export interface ProtocolTimeouts {
  /** Whole header phase, from accept to the trailing comma (not per byte): case 13. */
  headerTimeoutMs: number;
  /** Longest silence while reading the body. */
  bodyIdleTimeoutMs: number;
  /**
   * Longest time response bytes may wait unsent (the peer reads none of them); then the connection is reset. Checked
   * by serve.ts's sweep from the socket's writableLength: no timer per write.
   */
  sendIdleTimeoutMs: number;
  /** After an early answer, read and drop the unread body for at most this long / this many bytes, then close: cases 24-25. */
  drainTimeoutMs: number;
  drainMaxBytes: number;
  /**
   * From the handler's start (header block complete) to the response's end; 0 = no limit. Past it: 504 if nothing
   * was sent, else the connection is reset (docs/protocol.md case 38). Enforced by serve.ts's sweep like the rest.
   */
  requestTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxHeaderBytes: 64 * 1024,
  maxHeaderCount: 1000,
  maxBodyBytes: 1024 * 1024 * 1024,
  strict: false,
});

export const DEFAULT_TIMEOUTS: Readonly<ProtocolTimeouts> = Object.freeze({
  headerTimeoutMs: 10_000,
  bodyIdleTimeoutMs: 30_000,
  sendIdleTimeoutMs: 60_000, // nginx's send_timeout
  drainTimeoutMs: 1_000,
  drainMaxBytes: 1024 * 1024,
  requestTimeoutMs: 30_000, // below nginx's 60 s scgi_read_timeout; gunicorn's `timeout` (docs/configuration.md says why)
});
