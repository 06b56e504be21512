// The worker's connection handler: every open SCGI connection (connection.ts: socket ↔ RequestParser ↔ adapter),
// one coarse sweep timer that enforces all their deadlines (cases 13-14, the request timeout) instead of a timer
// per connection, the counters for the stats message, and the accept gate of max-connections (when to stop and
// start accepting). Not here: one connection's logic (connection.ts), bytes → head (protocol/), req/res or
// Request/Response (the adapters), listening, closing the listener and getting a new one (main.ts).

import type { Socket } from 'node:net';
import { Connection, type ConnectionOwner, type ServeOptions } from './connection.js';
import { HandleSocket } from '../transport/handle-socket.js';
import { listenToNetSocket } from '../transport/net-socket-events.js';
import type { StreamHandle } from '../../node-internals.js';
import { WarnLimiter } from './warn-limiter.js';

/** How main.ts stops and starts accepting for the gate (it closes its listening descriptor and gets a new one). */
export interface AcceptControl {
  pause(): void;
  resume(): void;
}

/**
 * A connection still receiving its header counts against max-connections for at most this long after accept. It
 * must count at first: libuv accepts every queued connection in one loop before any header is read, so a burst
 * would all land on one worker. It must stop counting soon: else a peer that connects and sends nothing could stop
 * a worker accepting (the header deadline is 10 s). Front ends send the header block with the connect.
 */
const ACCEPT_GRACE_MS = 100;

/** What the stats message carries (structurally worker/messages.ts RequestCounts, which a room may not import). */
export interface RequestCounters {
  /** Index 0: aborted (no response sent); 1..5: responses 1xx..5xx. */
  codes: number[];
  /** Per histogram bucket, not cumulative; the last is above the last bound. */
  buckets: number[];
  durationSeconds: number;
}

/** All connections of one worker, the sweep timer, and the counters main.ts reports. */
export class ConnectionSet implements ConnectionOwner {
  /**
   * The open connections, unordered; each knows its index (swap-remove). Not a Set: a Set's hash table, once
   * rehashed, keeps pointing at the connections it held, and a promoted dead table keeps whole requests (socket,
   * req/res) alive through the young-generation GCs.
   */
  private readonly list: Connection[] = [];
  /** Requests handed to the app that are over (answered, failed or aborted). */
  requests = 0;
  /** Requests handed to the app and not over yet. */
  inflight = 0;
  /** Requests cut by the request timeout (connection.ts requestTimedOut). */
  timeouts = 0;
  /** By status class and duration bucket, sent with every stats message (never a message per request). */
  readonly counts: RequestCounters;
  private readonly bounds: readonly number[];
  readonly warnings: WarnLimiter;
  missingScgiWarned = false;
  /** --max-requests for this worker (Infinity: none): `onRequestLimit` runs once when that many requests are over. */
  requestLimit = Infinity;
  onRequestLimit: (() => void) | null = null;
  /** Called each time the last open connection closes (main.ts waits for it while draining). */
  onEmpty: (() => void) | null = null;
  private readonly sweepTimer: NodeJS.Timeout;

  // --- the accept gate: inflight + arriving >= cap → pause; below it → resume (docs/configuration.md "max-connections") ---
  /** max-connections; Infinity: no cap (the gate costs one comparison per accept then). */
  private readonly cap: number;
  /** Connections of the current round still receiving their header (they count for ACCEPT_GRACE_MS at most). */
  private arriving = 0;
  /** Bumped when the grace ends: connections counted in an older round no longer count. */
  private round = 0;
  private paused = false;
  private graceTimer: NodeJS.Timeout | null = null;
  private control: AcceptControl | null = null;
  /**
   * The worker has just started, or resumed, accepting: what it accepts now may have waited in the kernel's queue,
   * long enough for its client to give up and the front end to close it, so it is held (connection.ts hold()) until
   * the FIN behind its request could be read. Cleared after the first accept burst (a setImmediate per start or
   * resume, never per request): libuv accepts until EAGAIN or until the gate closes the listener, so by then the
   * queue is taken (docs/protocol.md "Client aborts").
   */
  private backlogged = true;
  /** Bumped by each resume: a clearing scheduled before it must not clear the new burst's flag. */
  private resumes = 0;
  private backlogClearing = false;

  constructor(readonly options: ServeOptions) {
    this.warnings = new WarnLimiter(options.log);
    this.bounds = options.durationBoundsS ?? [];
    this.counts = { codes: [0, 0, 0, 0, 0, 0], buckets: this.bounds.map(() => 0).concat(0), durationSeconds: 0 };
    const t = options.timeouts;
    const shortest = Math.min(t.headerTimeoutMs, t.bodyIdleTimeoutMs, t.sendIdleTimeoutMs, t.drainTimeoutMs, t.requestTimeoutMs > 0 ? t.requestTimeoutMs : Infinity);
    const tickMs = Math.max(20, Math.min(1000, Math.floor(shortest / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), tickMs);
    this.sweepTimer.unref();
    this.cap = options.maxConnections !== undefined && options.maxConnections > 0 ? options.maxConnections : Infinity;
  }

  /** main.ts hands over the means to stop and start accepting; without it (or without a cap) the gate is off. */
  gate(control: AcceptControl): void {
    this.control = control;
  }

  /** The net.Server 'connection' listener (when the worker cannot serve on raw handles: node-internals.ts chooseIoPath). */
  readonly accept = (socket: Socket): void => {
    const c = new Connection(this, socket);
    listenToNetSocket(socket, c);
    c.index = this.list.length;
    this.list.push(c);
    if (this.backlogged) this.holdQueued(c);
    if (this.cap !== Infinity) this.admitted(c);
  };

  /** An accepted connection's libuv handle (accept-handles.ts acceptHandles), served through a HandleSocket. */
  readonly acceptHandle = (handle: StreamHandle): void => {
    const socket = new HandleSocket(handle);
    const c = new Connection(this, socket);
    c.index = this.list.length;
    this.list.push(c);
    if (this.backlogged) this.holdQueued(c);
    socket.start(c);
    if (this.cap !== Infinity) this.admitted(c);
  };

  /** One request is over: status 0 when no response was sent. A few increments and a scan of 14 bounds. */
  count(status: number, seconds: number): void {
    const counts = this.counts;
    counts.codes[status >= 100 && status < 600 ? (status / 100) | 0 : 0]++;
    counts.durationSeconds += seconds;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    counts.buckets[i]!++;
  }

  /** How many connections are open. */
  get open(): number {
    return this.list.length;
  }

  /** Drops every open connection (the graceful deadline passed): RST where a response was under way. */
  destroyAll(): void {
    for (const c of this.list.slice()) c.forceClose();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.control = null;
  }

  started(c: Connection): void {
    this.inflight++;
    if (c.gateRound === this.round) this.arriving--; // it now counts as a request instead
    c.gateRound = -1;
  }

  ended(): void {
    this.inflight--;
    // One comparison per request; the worker serves on after it (the master drains it once a replacement is ready).
    if (++this.requests === this.requestLimit) this.onRequestLimit?.();
    if (this.paused) this.reopenIfRoom();
  }

  closed(c: Connection): void {
    if (c.gateRound === this.round) {
      // Closed before its header was complete (empty connect, protocol error): it no longer holds a place.
      c.gateRound = -1;
      this.arriving--;
      if (this.paused) this.reopenIfRoom();
    }
    const list = this.list;
    const i = c.index;
    if (i < 0 || list[i] !== c) return;
    c.index = -1;
    const last = list.pop()!;
    if (last !== c) {
      list[i] = last;
      last.index = i;
    }
    if (list.length === 0 && this.onEmpty !== null) this.onEmpty();
  }

  private sweep(): void {
    const now = Date.now();
    const list = this.list;
    const sendMs = this.options.timeouts.sendIdleTimeoutMs;
    // Backwards: a connection closing inside onDeadline swaps the last one into its slot, already visited.
    for (let i = list.length - 1; i >= 0; i--) {
      const c = list[i];
      if (c === undefined) continue;
      if (c.deadline <= now) c.onDeadline(now);
      else if (c.requestDeadline <= now) c.requestTimedOut(now);
      else c.checkSend(now, sendMs);
    }
  }

  /**
   * Runs inside the listener's accept callback: closing the listener there also ends libuv's loop that accepts
   * whatever is queued (uv__server_io stops once the descriptor is closed), so the rest of a burst stays in the
   * kernel backlog for a worker with room.
   */
  private admitted(c: Connection): void {
    c.gateRound = this.round;
    this.arriving++;
    if (this.paused || this.control === null || this.inflight + this.arriving < this.cap) return;
    this.paused = true;
    this.control.pause();
    if (this.arriving > 0 && this.graceTimer === null) {
      this.graceTimer = setTimeout(this.graceOver, ACCEPT_GRACE_MS);
      this.graceTimer.unref();
    }
  }

  private readonly graceOver = (): void => {
    this.graceTimer = null;
    this.round++;
    this.arriving = 0;
    if (this.paused) this.reopenIfRoom();
  };

  /** A connection of the first accept burst after a start or resume: held; the flag is cleared once the burst is over. */
  private holdQueued(c: Connection): void {
    c.hold();
    if (this.backlogClearing) return;
    this.backlogClearing = true;
    setImmediate(backlogTaken, this, this.resumes);
  }

  /** @internal The accept burst is over (the check phase after the poll phase that ran it). */
  backlogTaken(resumes: number): void {
    this.backlogClearing = false;
    if (resumes === this.resumes) this.backlogged = false;
  }

  private reopenIfRoom(): void {
    if (this.control === null || this.inflight + this.arriving >= this.cap) return;
    this.paused = false;
    this.backlogged = true;
    this.resumes++;
    this.control.resume();
  }
}

function backlogTaken(set: ConnectionSet, resumes: number): void {
  set.backlogTaken(resumes);
}
