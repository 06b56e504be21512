// connection/ owns one request's life on a socket: parser ↔ app exchange ↔ response, deadlines, draining, counters.
// One SCGI connection in the worker: socket ↔ RequestParser ↔ adapter exchange, as a state machine.
// Owns its deadlines (header phase, body idle, drain, the request timeout), error answers, FIN then drain so the kernel never RSTs a
// response (cases 24-25), and RST when a response cannot be completed (case 33). Not here: the set of
// connections, the sweep timer and the counters (serve.ts), req/res or Request/Response (the adapters).

import type { Logger } from '../../log.js';
import { ProtocolError } from '../../protocol/errors.js';
import { RequestParser, type ParserSink, type ParserWarning, type RequestHead } from '../../protocol/request-parser.js';
import { errorResponse } from '../../protocol/response-writer.js';
import type { ConnectionSocket, SocketOwner } from '../transport/connection-socket.js';
import type { ProtocolLimits, ProtocolTimeouts } from '../../protocol/limits.js';
import type { Exchange, ExchangeHost, StartExchange } from './exchange.js';
import { hexEscape, type WarnLimiter } from './warn-limiter.js';

/**
 * head: reading the header block (total deadline) → body: the app has the request, the body is arriving (idle
 * timeout) → app: the whole request is in, waiting for the response (no deadline here) → draining: the response
 * is done or an error was answered, FIN sent, reading what is left (capped) → closed.
 */
export type ConnectionState = 'head' | 'body' | 'app' | 'draining' | 'closed';

/** What every connection of a worker is served with (main.ts builds it once; serve.ts ConnectionSet holds it). */
export interface ServeOptions {
  startExchange: StartExchange;
  limits: ProtocolLimits;
  timeouts: ProtocolTimeouts;
  log: Logger;
  /** Requests (header complete, response not ended) at which the worker stops accepting; 0 or absent: no cap. */
  maxConnections?: number;
  /** Upper bounds (s) of the duration histogram, ascending (main.ts passes messages.ts DURATION_BOUNDS_S); none: one bucket. */
  durationBoundsS?: readonly number[];
  /** Told of each request's start and end (main.ts passes the watchdog's watchdog/request-board.ts); absent: watchdog off. */
  tracker?: RequestTracker;
}

/** Where a request in flight is recorded for the watchdog thread: a slot number from begin, or -1 (not tracked). */
export interface RequestTracker {
  begin(method: string, uri: string): number;
  end(slot: number): void;
}

/** What a connection needs from the set it belongs to (serve.ts ConnectionSet). */
export interface ConnectionOwner {
  readonly options: ServeOptions;
  readonly warnings: WarnLimiter;
  missingScgiWarned: boolean;
  inflight: number;
  requests: number;
  /** Requests cut by the request timeout. */
  timeouts: number;
  /** A request started (header complete): inflight + 1, and the accept gate's count (serve.ts). */
  started(c: Connection): void;
  /** A request is over (answered, failed, aborted, timed out): inflight - 1, requests + 1. */
  ended(): void;
  /** A request is over: its status (0: no response sent) and its duration from the handler's start. */
  count(status: number, seconds: number): void;
  closed(c: Connection): void;
}

export class Connection implements ParserSink, ExchangeHost, SocketOwner {
  state: ConnectionState = 'head';
  /** When onDeadline must run next (ms since the epoch); Infinity while the app works. */
  deadline: number;
  /** When the request timeout cuts this request (handler start + requestTimeoutMs); Infinity: no limit or not started. */
  requestDeadline = Infinity;
  /** Response bytes the kernel had taken at the last sweep, and since when that has not grown (send-timeout). */
  sendTaken = 0;
  sendStalledAt = Infinity;
  /** The accept gate's round this connection was counted in while its header arrives (serve.ts); -1: not counted. */
  gateRound = -1;
  /** This connection's slot in its ConnectionSet (-1 once closed). */
  index = -1;
  readonly log: Logger;
  private readonly parser: RequestParser;
  private exchange: Exchange | null = null;
  private head: RequestHead | null = null;
  /** The first chunk received, for the hex dump in protocol warnings. */
  private first: Buffer | null = null;
  private drainedBytes = 0;
  /** The response is over (finished, failed, aborted): nothing more is written by us. */
  private responded = false;
  /** This connection holds one of the set's `inflight`. */
  private counted = false;
  /** The request timeout cut this request: what the app does afterwards is logged at debug only. */
  private timedOut = false;
  /** performance.now() when the app was handed the request (the histogram measures from here). */
  private startedAt = 0;
  /** The request's slot on the watchdog's board (RequestTracker), or -1. */
  private trackerSlot = -1;
  /**
   * Bytes read and not yet parsed while this connection is held (hold()): null when not held. A connection that
   * waited in the kernel's queue may carry its front end's FIN behind the request; libuv reads it one loop turn
   * after the request, so the request is parsed only after that turn (docs/protocol.md "Client aborts").
   */
  private held: Buffer[] | null = null;
  /** The front end closed before the request was handed to the app: the app never sees it (abandon()). */
  private peerGone = false;

  constructor(
    private readonly set: ConnectionOwner,
    readonly socket: ConnectionSocket,
  ) {
    this.log = set.options.log;
    this.parser = new RequestParser(this, set.options.limits);
    this.deadline = Date.now() + set.options.timeouts.headerTimeoutMs; // total, not per byte (case 13)
  }

  /**
   * serve.ts holds a connection accepted from a backlog (the worker just started or resumed accepting): its bytes are
   * parsed two loop turns after the first ones arrive, once libuv has read whatever followed them. The first turn
   * reads the request (a short read ends libuv's read loop), the second the FIN if the front end already closed
   * (nginx does on a client abort; docs/protocol.md "Client aborts"). Two setImmediates per held connection only;
   * a connection accepted as it arrives is never held.
   */
  hold(): void {
    this.held = [];
  }

  /** @internal The hold's first turn is over (the request was read in it): one more for the FIN. */
  heldTurn(): void {
    if (this.held !== null) setImmediate(releaseHeld, this);
  }

  /** @internal The hold's second turn is over and no FIN came: parse what was read, as if it had just arrived. */
  releaseHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    for (const chunk of held) {
      if (this.state === 'closed') return;
      this.data(chunk);
    }
  }

  // --- socket events ---

  data(chunk: Buffer): void {
    const held = this.held;
    if (held !== null) {
      if (held.push(chunk) === 1) {
        setImmediate(heldFirstTurn, this);
        return;
      }
      // A second read within the hold: more was queued than one read takes (a long body), so any FIN lies behind
      // the rest of it, and holding it all would defeat the body's backpressure. Parse now; an abort then shows as
      // a truncated body or an EOF in 'app' (cases 23, 27), after the handler started.
      return this.releaseHeld();
    }
    switch (this.state) {
      case 'head':
        if (this.first === null) this.first = chunk;
        break;
      case 'body':
        this.deadline = Date.now() + this.set.options.timeouts.bodyIdleTimeoutMs;
        break;
      case 'app':
        break;
      case 'draining':
        if (this.parser.state === 'body') {
          // The rest of the request's own body, answered early by the app: the front end sends it anyway, so it
          // is read (into the dumped req) under the body idle timeout, and the drain caps start once it is in.
          this.deadline = Date.now() + this.set.options.timeouts.bodyIdleTimeoutMs;
          break;
        }
        // Bytes nobody will use (after a protocol error, or past CONTENT_LENGTH): dropped, capped (cases 24-25).
        this.drainedBytes += chunk.length;
        if (this.drainedBytes > this.set.options.timeouts.drainMaxBytes) this.destroy();
        return;
      case 'closed':
        return;
      default:
        return assertNever(this.state);
    }
    try {
      this.parser.push(chunk);
    } catch (err) {
      // The app's own 'data' listener threw inside req.push(): the same as a throw in the handler.
      this.appFailed(err);
    }
  }

  peerEnded(): void {
    const held = this.held;
    if (held !== null) {
      // The FIN came with the bytes of a queued connection: a request among them is abandoned, not run (onHead).
      this.held = null;
      this.peerGone = true;
      for (const chunk of held) {
        this.data(chunk);
        if (this.state === 'closed') return;
      }
    }
    switch (this.state) {
      case 'head':
      case 'body':
        // The parser reports: nothing sent / inside the header → silent close; inside the body → truncated.
        this.parser.end(); // its onError closes the connection
        if ((this.state as ConnectionState) === 'head' || (this.state as ConnectionState) === 'body') this.destroy();
        return;
      case 'app':
        // No front end half-closes (docs/protocol.md case 27): EOF before our response means it went away. Abort like
        // node:http does when a client disconnects mid-request.
        this.destroy();
        return;
      case 'draining':
      case 'closed':
        this.destroy(); // the front end read our response and closed: done
        return;
      default:
        return assertNever(this.state);
    }
  }

  socketError(err: Error): void {
    // EPIPE/ECONNRESET when a front end goes away: routine. The close follows and does the cleanup.
    this.log.debug({ code: (err as NodeJS.ErrnoException).code }, `connection error: ${err.message}`);
  }

  socketClosed(): void {
    this.state = 'closed';
    this.deadline = Infinity;
    const exchange = this.exchange;
    if (exchange !== null) {
      if (!this.responded) {
        this.responded = true;
        this.release(0); // counted as aborted: no complete response went out
        exchange.abort(abortedError());
      }
      exchange.socketClosed();
    }
    this.set.closed(this);
  }

  // --- ParserSink ---

  onHead(head: RequestHead): void {
    this.head = head;
    this.first = null;
    if (this.peerGone) return this.abandon(head);
    const timeouts = this.set.options.timeouts;
    if (head.contentLength > 0) {
      this.state = 'body';
      this.deadline = Date.now() + timeouts.bodyIdleTimeoutMs;
    } else {
      this.state = 'app';
      this.deadline = Infinity;
    }
    // One Date.now() per request when the timeout is on; the sweep compares, no timer per request.
    if (timeouts.requestTimeoutMs > 0) this.requestDeadline = Date.now() + timeouts.requestTimeoutMs;
    this.set.started(this);
    this.counted = true;
    const tracker = this.set.options.tracker;
    if (tracker !== undefined) this.trackerSlot = tracker.begin(head.method, head.uri);
    this.startedAt = performance.now();
    let exchange: Exchange;
    try {
      exchange = this.set.options.startExchange(this, head);
    } catch (err) {
      this.appFailed(err);
      return;
    }
    this.exchange = exchange;
    exchange.dispatch();
  }

  /**
   * The request of a queued connection whose front end closed before we read it (its client gave up): counted as a
   * request aborted before any response (stats codes[0]), logged at debug, never handed to the app.
   */
  private abandon(head: RequestHead): void {
    this.set.started(this);
    this.counted = true;
    this.startedAt = performance.now();
    this.responded = true;
    this.release(0);
    // test/integration/worker-queued-abort.test.ts relies on this line.
    this.log.debug({ method: head.method, uri: head.uri, peer: this.peer() }, 'request not run: the front end closed the connection before its handler started');
    this.destroy();
  }

  onBody(chunk: Buffer): void {
    const exchange = this.exchange;
    if (exchange !== null && !exchange.body(chunk) && !this.responded) this.socket.pause(); // backpressure
  }

  onEnd(): void {
    if (this.state === 'body') {
      this.state = 'app';
      this.deadline = Infinity;
    } else if (this.state === 'draining') {
      this.deadline = Date.now() + this.set.options.timeouts.drainTimeoutMs; // the body is in: now the drain cap
    }
    if (this.exchange !== null) this.exchange.end();
  }

  onError(error: ProtocolError): void {
    if (this.exchange !== null) {
      // After the head only a truncated body can fail (case 23): the peer is gone, abort the request.
      this.log.info({ code: error.code, peer: this.peer() }, `request aborted: ${error.message}`);
      this.destroy();
      return;
    }
    this.reject(error);
  }

  onWarning(warning: ParserWarning): void {
    if (warning.type === 'missing-scgi') {
      if (this.set.missingScgiWarned) return;
      this.set.missingScgiWarned = true;
      // Once per worker (case 19): a config problem, not a per-request event.
      this.log.warn(
        { peer: this.peer() },
        'request without SCGI=1: the front end does not send the standard SCGI variables; with nginx, add `include scgi_params;` to the location',
      );
    } else {
      this.set.warnings.warn(
        { contentLength: warning.contentLength, httpContentLength: warning.httpContentLength, peer: this.peer() },
        'CONTENT_LENGTH differs from the client Content-Length; the body length comes from CONTENT_LENGTH (nginx < 1.29.6 with scgi_request_buffering off?)',
      );
    }
  }

  // --- ExchangeHost ---

  responseFinished(complete: boolean): void {
    if (this.responded) return;
    this.responded = true;
    this.release(this.exchange === null ? 0 : this.exchange.status());
    if (!complete) {
      this.set.warnings.warn(
        { method: this.head?.method, uri: this.head?.uri },
        'app ended a response before its declared Content-Length; connection reset so the client sees the truncation',
      );
      this.reset();
      return;
    }
    if (this.exchange !== null) this.exchange.dump();
    this.startDrain();
  }

  appFailed(error: unknown): void {
    const head = this.head;
    if (this.timedOut) {
      // The app reacting to the abort of a request the timeout cut (a rejected await, a destroyed stream): expected.
      this.log.debug({ err: error, method: head?.method, uri: head?.uri }, 'app error after its request timed out');
      return;
    }
    this.log.error({ err: error, method: head?.method, uri: head?.uri }, 'app error while handling a request');
    const exchange = this.exchange;
    // Already over, or a throw after res.end(): the answer is complete (its 'finish' drains), only the log remains.
    if (this.responded || this.state === 'closed' || (exchange !== null && exchange.responseEnded())) return;
    this.responded = true;
    const sent = exchange !== null && exchange.headWritten();
    this.release(sent ? exchange.status() : 500);
    if (sent) {
      // Bytes of a response may be out already: only a reset tells the front end it is broken (case 33).
      this.reset();
      return;
    }
    this.socket.write(errorResponse(500)); // nothing sent yet: a real answer beats an empty close (case 34)
    if (exchange !== null) exchange.dump();
    this.startDrain();
  }

  resumeBody(): void {
    if (this.state !== 'closed' && this.socket.isPaused()) this.socket.resume();
  }

  truncated(declared: number): void {
    const head = this.head;
    this.set.warnings.warn(
      { declared, method: head?.method, uri: head?.uri },
      'app wrote more than its declared Content-Length; the excess was dropped',
    );
  }

  warn(fields: Record<string, unknown>, msg: string): void {
    this.set.warnings.warn(fields, msg);
  }

  // --- deadlines and closing ---

  onDeadline(now: number): void {
    const timeouts = this.set.options.timeouts;
    switch (this.state) {
      case 'head': {
        // Nothing at all: silent close; part of a request: 408 (case 13). The deadline beats the size check (case 14).
        const silent = this.parser.bytesReceived === 0;
        this.reject(
          new ProtocolError(
            'ERR_SCGI_HEADER_TIMEOUT',
            silent ? null : 408,
            `no complete SCGI header block within ${timeouts.headerTimeoutMs} ms`,
          ),
        );
        return;
      }
      case 'body':
        if (this.socket.isPaused()) {
          // The app is not reading (backpressure): our silence, not the front end's.
          this.deadline = now + timeouts.bodyIdleTimeoutMs;
          return;
        }
        this.set.warnings.warn(
          { peer: this.peer(), method: this.head?.method, uri: this.head?.uri },
          `request body idle for ${timeouts.bodyIdleTimeoutMs} ms; closing`,
        );
        if (this.exchange !== null && !this.exchange.headWritten()) this.socket.write(errorResponse(408));
        this.destroy(); // the close aborts the app's request
        return;
      case 'draining':
        this.destroy();
        return;
      case 'app':
      case 'closed':
        this.deadline = Infinity;
        return;
      default:
        return assertNever(this.state);
    }
  }

  /**
   * The request outlived the request timeout (serve.ts's sweep; docs/protocol.md case 38). The app sees it end as
   * node:http's own timeouts end one (req destroyed with 'aborted', res 'close' unfinished; a fetch app's signal
   * aborts); the front end gets a 504 if nothing was sent, else a reset, never a hang. The worker serves on.
   */
  requestTimedOut(now: number): void {
    const startedAt = this.requestDeadline - this.set.options.timeouts.requestTimeoutMs;
    this.requestDeadline = Infinity;
    const exchange = this.exchange;
    if (this.responded || exchange === null || (this.state !== 'body' && this.state !== 'app')) return;
    const head = this.head;
    this.set.timeouts++;
    // test/frontends/request-timeout.test.ts relies on this line and its fields.
    this.log.warn(
      { method: head?.method, uri: head?.uri, age: Math.round((now - startedAt) / 100) / 10 },
      `request timed out after ${this.set.options.timeouts.requestTimeoutMs / 1000} s (request-timeout); ${exchange.headWritten() ? 'connection reset' : 'answered 504'}`,
    );
    this.responded = true;
    this.timedOut = true;
    const headWritten = exchange.headWritten();
    this.release(headWritten ? 0 : 504); // a reset response counts as aborted, like any response cut short
    exchange.expire(abortedError());
    if (headWritten) {
      this.reset(); // bytes are out: only a reset tells the front end the response is broken (case 33)
      return;
    }
    this.socket.write(errorResponse(504)); // one write, then FIN and the drain of what the front end still sends
    this.startDrain();
  }

  /**
   * serve.ts's sweep, when no other deadline is due: response bytes queued and none taken by the front end for
   * send-timeout → reset (the response is cut short, so it must look broken: case 33). Progress is a write finishing
   * (bytesWritten - writableLength grows), as nginx's send_timeout counts between two write operations; two field
   * reads per connection per tick, no timer per write.
   */
  checkSend(now: number, limitMs: number): void {
    const socket = this.socket;
    const pending = socket.writableLength;
    if (pending === 0) {
      this.sendStalledAt = Infinity;
      return;
    }
    const taken = socket.bytesWritten - pending;
    if (taken !== this.sendTaken || this.sendStalledAt === Infinity) {
      this.sendTaken = taken;
      this.sendStalledAt = now;
      return;
    }
    if (now - this.sendStalledAt < limitMs || this.state === 'closed') return;
    this.set.warnings.warn(
      { peer: this.peer(), method: this.head?.method, uri: this.head?.uri, pending },
      `front end read none of the response for ${limitMs / 1000} s (send-timeout); connection reset`,
    );
    this.reset(); // the close aborts the app's request if it is still running
  }

  /** The graceful deadline passed while this connection was still open. */
  forceClose(): void {
    const exchange = this.exchange;
    if (exchange !== null && !this.responded) {
      if (exchange.headWritten()) return this.reset(); // a response cut short must look broken (case 33)
      // Nothing sent yet: a 503 says more than an empty close (case 34); the close then aborts the app's request.
      this.socket.write(errorResponse(503));
    }
    this.destroy();
  }

  /** Answer a protocol error before any app involvement: silent close, or the error response then drain. */
  private reject(error: ProtocolError): void {
    if (error.status === null) {
      this.log.debug({ code: error.code, peer: this.peer() }, `connection closed: ${error.message}`);
      this.destroy();
      return;
    }
    this.set.warnings.warn(
      { code: error.code, status: error.status, peer: this.peer(), bytes: this.first === null ? '' : hexEscape(this.first) },
      `bad SCGI request: ${error.message}${error.hint === undefined ? '' : `; ${error.hint}`}`,
    );
    this.responded = true;
    this.socket.write(errorResponse(error.status)); // one write (case 32)
    this.startDrain(); // even for a 413 the body is read and dropped, capped (case 25)
  }

  /** FIN after the response, then read and drop until EOF or the caps, so the kernel never RSTs it (cases 24-25). */
  private startDrain(): void {
    if (this.state === 'closed' || this.state === 'draining') return;
    this.state = 'draining';
    const timeouts = this.set.options.timeouts;
    this.deadline = Date.now() + (this.parser.state === 'body' ? timeouts.bodyIdleTimeoutMs : timeouts.drainTimeoutMs);
    this.drainedBytes = 0;
    this.socket.end();
    if (this.socket.isPaused()) this.socket.resume();
  }

  private destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.deadline = Infinity;
    this.socket.destroy();
  }

  private reset(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.deadline = Infinity;
    try {
      this.socket.resetAndDestroy();
    } catch {
      // Unix sockets have no RST (ERR_INVALID_HANDLE_TYPE); a close with unread input gives the peer ECONNRESET.
      this.socket.destroy();
    }
  }

  private release(status: number): void {
    if (!this.counted) return;
    this.counted = false;
    if (this.trackerSlot >= 0) {
      this.set.options.tracker!.end(this.trackerSlot);
      this.trackerSlot = -1;
    }
    this.set.ended();
    this.set.count(status, (performance.now() - this.startedAt) / 1000);
  }

  private peer(): string {
    const s = this.socket;
    // Before the head this is the front end's address; afterwards REMOTE_ADDR shadows it (node-http-adapter.ts).
    return s.remoteAddress === undefined ? 'unix' : `${s.remoteAddress}:${s.remotePort ?? ''}`;
  }
}

// The hold's two turns (Connection.hold): shared functions, the connection as argument, no closure per connection.
function heldFirstTurn(c: Connection): void {
  c.heldTurn();
}
function releaseHeld(c: Connection): void {
  c.releaseHeld();
}

/** What node:http gives a request whose client went away (connResetException('aborted')). */
function abortedError(): Error {
  const err = new Error('aborted') as NodeJS.ErrnoException;
  err.code = 'ECONNRESET';
  return err;
}

function assertNever(state: never): never {
  throw new Error(`unreachable connection state ${String(state)}`);
}
