// What the control socket needs from the thing it controls. The Master satisfies it structurally
// (control/ never imports master/); the CLI composes the two. Field names are the public JSON of `stats --json`.

export type WorkerStatsState = 'starting' | 'ready' | 'draining' | 'backoff';
export type ExitReason = 'crash' | 'reload' | 'recycled' | 'stopped';

export interface WorkerStats {
  id: number;
  pid: number | null;
  state: WorkerStatsState;
  generation: number;
  uptime: number; // seconds
  requests: number;
  inflight: number;
  /** Requests cut by --request-timeout (cumulative, this process). */
  timeouts: number;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; reason: ExitReason } | null;
  cpu: number | null; // percent of one core (pidusage)
  memory: number | null; // RSS bytes
}

export interface StatsSnapshot {
  master: { pid: number; version: string; listen: string; generation: number; uptime: number; workers: number };
  workers: WorkerStats[];
}

export interface ReloadResult {
  generation: number;
  durationMs: number;
  workers: number;
}

export interface ScaleResult {
  from: number;
  to: number;
}

export interface ControlTarget {
  /** Rolling reload; resolves when every new worker is ready and every old one has exited.
   *  Rejects with SupervisorError ERR_RELOAD_IN_PROGRESS, ERR_RELOAD_FAILED (canary failed; old generation kept) or ERR_STOPPING. */
  reload(): Promise<ReloadResult>;
  stats(): Promise<StatsSnapshot>;
  /** Resolves once the pool has reached the new size. */
  scale(workers: number): Promise<ScaleResult>;
  /** Starts a graceful stop; resolves when it has begun. The client then waits for the master to exit. */
  stop(): Promise<void>;
}
