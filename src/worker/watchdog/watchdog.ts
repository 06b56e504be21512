// The main thread's side of the watchdog: starts watchdog-thread.ts with the shared request board, stamps the
// heartbeat from a timer (which runs only while the event loop does), and hands the thread's "master gone" to
// main.ts. Not the thread's logic (watchdog-thread.ts), nor what the master does with a report (master/pool.ts).

import { Worker } from 'node:worker_threads';
import { BOARD_BYTES, RequestBoard } from './request-board.js';
import type { WatchdogData } from './watchdog-thread.js';

/** Heartbeat period: the error on the blocked time, and the orphan check's period (issue 13: 2 s in all). */
const BEAT_MS = 250;

export interface WatchdogOptions {
  workerTimeoutMs: number;
  fd: number;
  onMasterGone(): void;
}

export class Watchdog {
  readonly board: RequestBoard;
  private readonly thread: Worker;
  private readonly timer: NodeJS.Timeout;

  constructor(options: WatchdogOptions) {
    this.board = new RequestBoard(new SharedArrayBuffer(BOARD_BYTES));
    this.board.beat(Date.now());
    const workerData: WatchdogData = { memory: this.board.memory, workerTimeoutMs: options.workerTimeoutMs, fd: options.fd, beatMs: BEAT_MS };
    // A small young generation: the thread allocates a few objects per check and nothing else.
    this.thread = new Worker(new URL('./watchdog-thread.js', import.meta.url), {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
      stdout: false,
      stderr: false,
    });
    this.thread.unref(); // never what keeps a draining worker alive
    this.thread.on('message', (m: { type?: string }) => {
      if (m.type !== 'master-gone') return;
      this.board.acknowledgeMasterGone(); // the thread now knows this loop runs and drains (watchdog-thread.ts)
      options.onMasterGone();
    });
    this.thread.on('error', () => undefined); // a thread that fails only loses the protection; the worker serves on
    this.timer = setInterval(() => this.board.beat(Date.now()), BEAT_MS);
    this.timer.unref();
  }
}
