// The worker's connection handler: every open SCGI connection (connection.ts: socket ↔ RequestParser ↔ adapter),
// one coarse sweep timer that enforces all their deadlines (cases 13-14) instead of a timer per connection, and
// the counters for the stats message. Not here: one connection's logic (connection.ts), bytes → head
// (protocol/), req/res or Request/Response (the adapters), listening and lifecycle (main.ts).

import type { Socket } from 'node:net';
import { Connection, type ConnectionOwner, type ServeOptions } from './connection.js';
import { HandleSocket } from '../transport/handle-socket.js';
import { listenToNetSocket } from '../transport/net-socket-events.js';
import type { StreamHandle } from '../../node-internals.js';
import { WarnLimiter } from './warn-limiter.js';

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
  /** By status class and duration bucket, sent with every stats message (never a message per request). */
  readonly counts: RequestCounters;
  private readonly bounds: readonly number[];
  readonly warnings: WarnLimiter;
  missingScgiWarned = false;
  /** Called each time the last open connection closes (main.ts waits for it while draining). */
  onEmpty: (() => void) | null = null;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(readonly options: ServeOptions) {
    this.warnings = new WarnLimiter(options.log);
    this.bounds = options.durationBoundsS ?? [];
    this.counts = { codes: [0, 0, 0, 0, 0, 0], buckets: this.bounds.map(() => 0).concat(0), durationSeconds: 0 };
    const t = options.timeouts;
    const tickMs = Math.max(20, Math.min(1000, Math.floor(Math.min(t.headerTimeoutMs, t.bodyIdleTimeoutMs, t.drainTimeoutMs) / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), tickMs);
    this.sweepTimer.unref();
  }

  /** The net.Server 'connection' listener (when the worker cannot serve on raw handles: node-internals.ts chooseIoPath). */
  readonly accept = (socket: Socket): void => {
    const c = new Connection(this, socket);
    listenToNetSocket(socket, c);
    c.index = this.list.length;
    this.list.push(c);
  };

  /** An accepted connection's libuv handle (stream-bindings.ts acceptHandles), served through a HandleSocket. */
  readonly acceptHandle = (handle: StreamHandle): void => {
    const socket = new HandleSocket(handle);
    const c = new Connection(this, socket);
    c.index = this.list.length;
    this.list.push(c);
    socket.start(c);
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
  }

  closed(c: Connection): void {
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
    // Backwards: a connection closing inside onDeadline swaps the last one into its slot, already visited.
    for (let i = list.length - 1; i >= 0; i--) {
      const c = list[i];
      if (c !== undefined && c.deadline <= now) c.onDeadline(now);
    }
  }
}
