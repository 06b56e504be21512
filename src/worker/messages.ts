// The master <-> worker contract: the options a worker starts with, and the IPC messages both ways.
// The master imports these types; nothing else in worker/ is visible to it.

import type { ProtocolLimits, ProtocolTimeouts } from '../protocol/limits.js';

/** Environment variable carrying the JSON WorkerOptions; the worker deletes it before loading the app. */
export const WORKER_OPTIONS_ENV = 'SCGI_SUPERVISE_WORKER';

/** The listening socket is handed to every worker as this file descriptor (stdio slot 4; slot 3 is IPC). */
export const LISTEN_FD = 4;

/** The worker's own log records go to this pipe (stdio slot 5) when the master routes output (master/worker-output.ts). */
export const LOG_FD = 5;
/**
 * The watchdog thread's report pipe (watchdog-thread.ts): one JSON line per report, a `blocked` WorkerToMaster. A
 * thread has no process.send, and the main thread, blocked, could not pass one on; spawn-worker.ts reads it.
 */
export const WATCHDOG_FD = 6;

export interface WorkerOptions {
  /** Absolute path of the user's app module (CJS or ESM). */
  app: string;
  /** Slot number, 1..N, stable across restarts of the slot. */
  workerId: number;
  generation: number;
  limits: ProtocolLimits;
  timeouts: ProtocolTimeouts;
  /** How long a drain may take before the worker closes what is left itself (the master escalates after it). */
  gracefulTimeoutMs: number;
  /** How often the worker reports its counters (no per-request message: issue 4). */
  statsIntervalMs: number;
  logLevel: string;
  logFormat: 'text' | 'json';
  /** Where the worker's logger writes: LOG_FD when the master reads the workers' output, else 2 (stderr). */
  logFd?: number;
  /** listen() backlog the worker re-applies to the inherited socket (Node's listen({ fd }) always calls listen(2)); default 511. */
  backlog?: number;
  /**
   * Requests the worker handles at once before it closes its listening descriptor (0 or absent: no cap); below it
   * again it asks for a fresh copy with `listener-wanted` and the master answers `listener` with the socket attached.
   */
  maxConnections?: number;
  /** The watchdog (watchdog.ts): a loop blocked this long is reported and the worker killed; 0 or absent: off. */
  workerTimeoutMs?: number;
  /**
   * --max-requests with this worker's jitter already drawn (0 or absent: none): when that many requests are over,
   * the worker sends `limit-reached` once and serves on until the master drains it (its replacement is ready).
   */
  maxRequests?: number;
}

/**
 * Upper bounds in seconds of the request-duration histogram (handler start to response end), 1 ms to 30 s; +Inf
 * follows the last. The worker counts into them, the master sums them over workers (control/metrics-text.ts shows
 * them as Prometheus buckets). Changing them changes the series an operator has stored: add, never move.
 */
export const DURATION_BOUNDS_S: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A worker's request counters since it started, cumulative (the master keeps them after the worker is gone). */
export interface RequestCounts {
  /** Index 0: aborted (the handler ran, no response was sent); 1..5: responses 1xx..5xx. */
  codes: number[];
  /** Per bucket of DURATION_BOUNDS_S, not cumulative; the last one is above 30 s. */
  buckets: number[];
  /** Sum of the durations, seconds. */
  durationSeconds: number;
}

export interface SerializedError {
  code: string;
  message: string;
  hint?: string;
  stack?: string;
}

export type MasterToWorker =
  /** Stop accepting, finish in-flight requests (up to gracefulTimeoutMs), then exit EXIT_OK. */
  | { type: 'drain'; graceMs?: number }
  /** Carries a copy of the listening socket (child.send's handle argument), answering `listener-wanted`. */
  | { type: 'listener' };

export type WorkerToMaster =
  /** The app is loaded (and awaited) and the worker accepts on the shared socket. */
  | { type: 'ready' }
  /** Sent just before exiting EXIT_APP_LOAD_FAILED, so the master can print the app's own error. */
  | { type: 'load-failed'; error: SerializedError }
  /** Cumulative counters, sent every statsIntervalMs when they changed, and once when draining ends. */
  | { type: 'stats'; requests: number; inflight: number; timeouts: number; counts?: RequestCounts }
  /** Its maxRequests-th request is over (sent once): the master starts its replacement (master/recycle.ts). */
  | { type: 'limit-reached'; limit: 'max-requests'; requests: number }
  /** At its max-connections cap the worker closed its listening descriptor; now below it, it wants a copy. */
  | { type: 'listener-wanted' }
  /** Acknowledges a drain: the worker no longer accepts. */
  | { type: 'draining'; inflight: number }
  /**
   * From the watchdog thread over WATCHDOG_FD, never over IPC: the event loop has not run for blockedMs (at least
   * workerTimeoutMs); `requests`: those in flight, oldest first. The master kills the worker (pool.ts).
   */
  | { type: 'blocked'; blockedMs: number; requests: BlockedRequest[] };

/** A request in flight in a blocked worker (worker/watchdog/request-board.ts BoardRequest). */
export interface BlockedRequest {
  method: string;
  uri: string;
  ageS: number;
}

export function isWorkerToMaster(value: unknown): value is WorkerToMaster {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready' || type === 'load-failed' || type === 'stats' || type === 'draining' || type === 'listener-wanted' || type === 'blocked' || type === 'limit-reached';
}
