// The public contract of `stats --json` (and of reload/scale results): one set of types that master/ fills, control/
// serves and cli/ formats, so each may import it like errors.ts. Also the one MAX_WORKERS every layer checks against.
// Not the sampling or the rows (master/stats.ts), nor the rendering (cli/format.ts).

/** The largest pool `workers`, `scale` and SIGTTIN accept. */
export const MAX_WORKERS = 1024;

export type WorkerStatsState = 'starting' | 'ready' | 'draining' | 'backoff';

/** The recycling limits (master/recycle.ts): `lastExit.limit` of a recycled worker, and the metrics' label. */
export type RecycleLimit = 'max-requests' | 'max-memory' | 'max-lifetime';

/** Why a worker's process ended: planned (reload, recycled, stopped) or not (crash, worker-timeout). */
export type ExitReason = 'crash' | 'reload' | 'recycled' | 'stopped' | 'worker-timeout';

export interface WorkerStats {
  id: number;
  pid: number | null;
  state: WorkerStatsState;
  generation: number;
  uptime: number; // seconds
  requests: number;
  inflight: number;
  /** Requests cut by --request-timeout (cumulative, this worker process). */
  timeouts: number;
  restarts: number;
  /** Unplanned exits of this slot in the last 60 s: a crash loop shows here (and lastExit says how they end). */
  recentRestarts: number;
  /** Planned replacements of this slot's workers by --max-requests/-memory/-lifetime (never counted in restarts). */
  recycles: number;
  /** How the slot's last worker ended; `limit` says which recycling limit when reason is 'recycled'. */
  lastExit: { code: number | null; signal: string | null; reason: ExitReason; limit?: RecycleLimit } | null;
  cpu: number | null; // percent of one core (pidusage)
  memory: number | null; // RSS bytes
}

/** The listening socket's accept queue (master/listen-queue.ts), sampled at --stats-interval; see docs/metrics.md. */
export interface ListenQueue {
  /** Connections the kernel has completed and no worker has accepted yet. */
  depth: number;
  /** How many it holds: min(backlog, net.core.somaxconn). */
  limit: number;
}

export interface StatsSnapshot {
  master: {
    pid: number;
    version: string;
    listen: string;
    generation: number;
    uptime: number;
    workers: number;
    /** null when the queue cannot be read (no /proc; no `ss` for a Unix socket). */
    listenQueue: ListenQueue | null;
    /** The Config in effect (config/config.ts, as JSON; durations in ms): the last one a reload applied. Its
     *  `workers` is what the config said; `workers` above is the target now, a runtime scale included. */
    config: Readonly<Record<string, unknown>>;
    /** Over the master's life: an exited (crashed, recycled, reloaded) worker's last reported counters are kept. */
    totals: { requests: number; timeouts: number; recycles: number; restarts: number };
  };
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
