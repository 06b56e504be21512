// The master's one periodic sample of what is slow to read: every worker's CPU and memory (pidusage) and the
// listening socket's queue. `stats`, the metrics and recycling all read its last result; nothing samples on demand.
// Not what the figures mean (stats.ts rows, metrics-text.ts, recycle.ts), nor when the pool acts on them (pool.ts).

import type { ListenQueue, ListenQueueReader } from './listen-queue.js';
import type { Usage, UsageSampler } from './stats.js';

export interface SamplerOptions {
  sampleUsage: UsageSampler;
  /** Without it (unit tests), the queue is not read (null). */
  readListenQueue: ListenQueueReader | null;
  /** The live workers' pids at the time of a sample. */
  pids(): number[];
  /** The wait before the next sample, asked after each one (--stats-interval; shorter while recycling needs it). */
  nextIntervalMs(last: ReadonlyMap<number, Usage>): number;
  /** After each sample. */
  sampled(usage: ReadonlyMap<number, Usage>): void;
}

export class Sampler {
  queue: ListenQueue | null = null;
  usage: Map<number, Usage> = new Map();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly o: SamplerOptions) {}

  /**
   * Samples now, then again after each interval (a timer of its own, unref'd: it must never keep the master alive
   * nor wait on the loop). A sample that takes longer than the interval delays the next one instead of piling up.
   */
  start(): void {
    const again = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.sampleNow().finally(again), this.o.nextIntervalMs(this.usage));
      this.timer.unref();
    };
    void this.sampleNow().finally(again);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  /** One sample; public so unit tests can take one without the timer. */
  async sampleNow(): Promise<void> {
    const read = this.o.readListenQueue;
    const [queue, usage] = await Promise.all([read === null ? null : read(), this.o.sampleUsage(this.o.pids()).catch(() => new Map<number, Usage>())]);
    this.queue = queue;
    this.usage = usage;
    this.o.sampled(usage);
  }

  /** An exited worker's last sample, taken off (the caller keeps its CPU seconds). */
  forget(pid: number): Usage | undefined {
    const u = this.usage.get(pid);
    this.usage.delete(pid);
    return u;
  }
}
