// The seam between serve.ts (one SCGI connection: socket, parser, deadlines, draining) and the two app adapters
// (node-http-adapter.ts, fetch-adapter.ts), which turn one request into req/res or Request/Response.
// Types only: serve.ts implements ExchangeHost, the adapters implement Exchange.

import type { Logger } from '../../log.js';
import type { RequestHead } from '../../protocol/request-parser.js';
import type { ConnectionSocket } from '../transport/connection-socket.js';

/** One request in an adapter, as the connection drives it. */
export interface Exchange {
  /** Hand the request to the app (called once, after the host has stored the exchange). */
  dispatch(): void;
  /** A body chunk for the app. false: the app's buffer is full, the connection pauses the socket until resumeBody. */
  body(chunk: Buffer): boolean;
  /** The whole body has arrived (exactly CONTENT_LENGTH bytes). */
  end(): void;
  /** The front end went away, or the request failed before the response finished: abort req/res or the Request. */
  abort(error: Error): void;
  /**
   * The worker gave up on the request (the request timeout): abort it as abort() does, and retire the response, so
   * nothing the app writes later reaches the socket; the response's 'close' follows (writableEnded false).
   */
  expire(error: Error): void;
  /** The socket closed (after abort, if there was one): the response's own 'close', as node:http emits it. */
  socketClosed(): void;
  /** The response finished: from now on, body bytes the app did not read are read and dropped (case 25). */
  dump(): void;
  /** True once response bytes may have reached the socket: a failure then means RST, not a 500 (cases 33-34). */
  headWritten(): boolean;
  /** True once the app has ended its response (res.end()): a later throw must not break a complete answer. */
  responseEnded(): boolean;
  /** The status the response carries (or will), for the status-class counters of the stats message. */
  status(): number;
}

/** What an adapter may ask of its connection. */
export interface ExchangeHost {
  /** A HandleSocket or a net.Socket (transport/connection-socket.ts); node:http's req.socket and res.socket. */
  readonly socket: ConnectionSocket;
  readonly log: Logger;
  /** Called once when the response is complete (FIN + drain) or incomplete (declared length not reached: RST). */
  responseFinished(complete: boolean): void;
  /** The app threw or rejected, or returned something unusable: a 500 if nothing was sent yet, else RST. */
  appFailed(error: unknown): void;
  /** The app wants more body: resume the socket (the counterpart of Exchange.body returning false). */
  resumeBody(): void;
  /** The app wrote more than the Content-Length it declared; the excess was dropped (case 31). Logs once. */
  truncated(declared: number): void;
  /** A warning a client can trigger at will: rate-limited. */
  warn(fields: Record<string, unknown>, msg: string): void;
}

export type StartExchange = (host: ExchangeHost, head: RequestHead) => Exchange;
