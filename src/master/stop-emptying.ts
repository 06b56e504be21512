// A stop's first stage for a socket we bound (issue 13): read the kernel's accept queue every
// EMPTYING_INTERVAL_MS while the workers keep accepting, until a reading says 0, and log the stage's start and end.
// Not the decision to close (pool.ts decide: on `empty` or at `until`), the close and the drains (master.ts), nor
// how the close limits what the last worker's close can reset (listener.ts closeForStop).

import type { Clock } from './clock.js';
import type { ListenQueue, ListenQueueReader } from './listen-queue.js';
import type { Emptying } from './pool.js';
import type { TableLog } from './worker-table.js';
import { seconds } from './stats.js';

/** Short beside a request (the issue 13 netns test: a reading takes 0.5 ms for TCP, ~12 ms with `ss` for unix). */
export const EMPTYING_INTERVAL_MS = 25;

export interface QueueEmptyingOptions {
  read: ListenQueueReader;
  clock: Clock;
  log: TableLog;
  gracefulTimeoutMs: number;
  /**
   * No "empty" before this long after the start: new SYNs were refused at the start (syn-filter.ts), and a handshake
   * already under way then completes within a round trip, into the queue; 0 when nothing was refused.
   */
  settleMs?: number;
  /** Called after each reading: the master decides again. */
  onReading: () => void;
}

export class QueueEmptying {
  private readonly startedAt: number;
  private readonly until: number;
  /** The last reading's depth (null before the first, or when the queue cannot be read). */
  private depth: number | null = null;
  private empty = false;
  private closed = false;
  private cancelTimer: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly o: QueueEmptyingOptions) {
    this.startedAt = o.clock.now();
    this.until = this.startedAt + o.gracefulTimeoutMs;
    this.readOnce(true);
  }

  view(): Emptying {
    return { until: this.until, empty: this.empty, closed: this.closed };
  }

  /** pool.ts said close-listener: the master closes its fd next, then drains `workers` workers. */
  close(reason: 'empty' | 'timeout' | 'no-worker', workers: number): void {
    if (this.closed) return;
    this.closed = true;
    this.cancel();
    const ms = Math.round(this.o.clock.now() - this.startedAt);
    switch (reason) {
      case 'empty':
        // Stable line (test/integration/lifecycle-stop-queue.test.ts greps it).
        if (this.depth === null) this.o.log.info(`listen queue cannot be read; draining ${workers} workers now`);
        else this.o.log.info(`listen queue empty after ${ms} ms; draining ${workers} workers`);
        return;
      case 'timeout':
        this.o.log.warn(`listen queue still held ${this.depth ?? '?'} connections after the graceful timeout (${seconds(ms)}s); draining ${workers} workers, closing the socket resets them`);
        return;
      case 'no-worker': {
        const line = `no ready worker to empty the listen queue (${this.depth ?? 'unknown'} waiting); draining ${workers} workers`;
        if (this.depth !== null && this.depth > 0) this.o.log.warn(line);
        else this.o.log.info(line);
        return;
      }
      default: {
        const never: never = reason;
        throw new Error(`unknown close reason ${String(never)}`);
      }
    }
  }

  /** The master finished (or the stop was forced): no more readings. */
  cancel(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  private readOnce(first: boolean): void {
    this.o.read().then(
      (q) => this.reading(q, first),
      () => this.reading(null, first), // a reader never rejects (listen-queue.ts); if one does, do not wait on it
    );
  }

  private reading(q: ListenQueue | null, first: boolean): void {
    if (this.stopped) return;
    this.depth = q === null ? null : q.depth;
    // Stable line (test/integration/lifecycle-stop-queue.test.ts greps it).
    if (first && q !== null) this.o.log.info(`stopping: emptying the listen queue (${q.depth} waiting)`);
    // Unreadable: do not wait on it (drain as before issue 13).
    const settled = this.o.clock.now() >= this.startedAt + (this.o.settleMs ?? 0);
    if (q === null || (q.depth === 0 && settled)) this.empty = true;
    else this.cancelTimer = this.o.clock.setTimer(EMPTYING_INTERVAL_MS, () => this.readOnce(false));
    this.o.onReading();
  }
}
