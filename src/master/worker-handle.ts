// The master's view of one worker process: its slot, generation, state machine and counters (Puma's WorkerHandle,
// Node's cluster Worker). Not the process itself (spawn-worker.ts) and not the decisions about it (pool.ts).
//
//   starting ──ready──▶ ready ──drain──▶ draining ──▶ exited        (drain: stop, reload, scale-down, recycle)
//      │  └──────────── drain (stop, aborted canary, scale-down while the app loads) ──▶ draining
//      └──────────────────────────────────────────────▶ exited (load failure, crash, boot timeout)
//                         ready ─────────────────────▶ exited (crash)

import { InternalError } from '../errors.js';
import type { ExitReason } from '../stats-contract.js';
import type { RequestCounts, SerializedError } from '../worker/messages.js';
import type { WorkerProcess } from './spawn-worker.js';
import type { RecycleLimit } from './recycle.js';

export type WorkerState = 'starting' | 'ready' | 'draining' | 'exited';

const NEXT: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  starting: ['ready', 'draining', 'exited'],
  ready: ['draining', 'exited'],
  draining: ['exited'],
  exited: [],
};

export interface LastExit {
  code: number | null;
  signal: string | null;
  reason: ExitReason;
  /** For reason 'recycled': the limit that recycled it. */
  limit?: RecycleLimit;
}

/** Why the master sent SIGKILL, so the exit that follows is told apart from a crash. */
export type KillCause = 'boot-timeout' | 'drain-timeout' | 'stop-now' | 'worker-timeout' | 'max-memory';

export class WorkerHandle {
  readonly id: number;
  readonly pid: number;
  readonly generation: number;
  readonly startedAt: number;
  readonly process: WorkerProcess;
  state: WorkerState = 'starting';
  /** When the current state began (deadlines count from here). */
  since: number;
  lastBeat: number;
  requests = 0;
  inflight = 0;
  /** Requests cut by the request timeout (from the worker's stats message). */
  timeouts = 0;
  /** Status classes and duration buckets from the last stats message (the master adds them up at exit). */
  counts: RequestCounts | null = null;
  /** Restarts of the slot when this worker was started (the slot's count lives in the master). */
  restarts: number;
  drainReason: ExitReason | null = null;
  killedFor: KillCause | null = null;
  /** When its watchdog thread reported the event loop blocked (worker/watchdog/watchdog-thread.ts); pool.ts kills it. */
  blockedSince: number | null = null;
  /** Its max-requests with the jitter drawn at spawn (recycle.ts requestLimitFor); null: no limit. */
  requestLimit: number | null = null;
  /** Resident set size in bytes at the master's last sample (null until sampled). */
  memory: number | null = null;
  /** Marked for recycling by pool.ts (the limit it reached): it serves until its replacement is ready. */
  recycling: RecycleLimit | null = null;
  /** The app's error, from a `load-failed` message sent just before exit code 3. */
  loadError: SerializedError | null = null;

  constructor(init: { id: number; generation: number; process: WorkerProcess; now: number; restarts: number }) {
    this.id = init.id;
    this.pid = init.process.pid;
    this.generation = init.generation;
    this.process = init.process;
    this.startedAt = init.now;
    this.since = init.now;
    this.lastBeat = init.now;
    this.restarts = init.restarts;
  }

  transition(to: WorkerState, now: number): void {
    if (!NEXT[this.state].includes(to)) {
      throw new InternalError(`worker ${this.id} (pid ${this.pid}): illegal transition ${this.state} → ${to}`);
    }
    this.state = to;
    this.since = now;
  }

  /** "worker 3 (pid 812)": the prefix of every log line about a worker (tests grep it). */
  get label(): string {
    return `worker ${this.id} (pid ${this.pid})`;
  }
}
