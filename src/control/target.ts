// What the control socket needs from the thing it controls. The Master satisfies it structurally
// (control/ never imports master/); the CLI composes the two. The JSON shapes live in ../stats-contract.ts.

import type { ReloadResult, ScaleResult, StatsSnapshot } from '../stats-contract.js';

export interface ControlTarget {
  /** Rolling reload; resolves when every new worker is ready and every old one has exited.
   *  Rejects with SupervisorError ERR_RELOAD_IN_PROGRESS, ERR_RELOAD_FAILED (canary failed; old generation kept) or ERR_STOPPING. */
  reload(): Promise<ReloadResult>;
  stats(): Promise<StatsSnapshot>;
  /** The Prometheus text exposition, from the last sample (no sampling per call). */
  metrics(): Promise<string>;
  /** Resolves once the pool has reached the new size. */
  scale(workers: number): Promise<ScaleResult>;
  /** Starts a graceful stop; resolves when it has begun. The client then waits for the master to exit. */
  stop(): Promise<void>;
}
