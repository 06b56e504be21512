// The `stats` snapshot: counters the workers report in their periodic `stats` IPC messages (never one message per
// request), plus cpu/memory sampled with pidusage only when someone asks. The types mirror control/target.ts
// field for field (master/ may not import control/; the CLI's composition checks they still match).

import pidusage from 'pidusage';

export type ExitReason = 'crash' | 'reload' | 'recycled' | 'stopped';
export type WorkerStatsState = 'starting' | 'ready' | 'draining' | 'backoff';

export interface WorkerStats {
  id: number;
  pid: number | null;
  state: WorkerStatsState;
  generation: number;
  uptime: number;
  requests: number;
  inflight: number;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; reason: ExitReason } | null;
  cpu: number | null;
  memory: number | null;
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

export interface Usage {
  cpu: number;
  memory: number;
}

/** pid → usage; a pid that vanished meanwhile is simply missing. */
export type UsageSampler = (pids: number[]) => Promise<Map<number, Usage>>;

export const sampleUsage: UsageSampler = async (pids) => {
  const out = new Map<number, Usage>();
  if (pids.length === 0) return out;
  const put = (pid: number, s: { cpu: number; memory: number } | undefined) => {
    if (s) out.set(pid, { cpu: Math.round(s.cpu * 10) / 10, memory: s.memory });
  };
  try {
    const all = await pidusage(pids);
    for (const pid of pids) put(pid, all[pid]);
  } catch {
    // One exited pid fails the whole batch: ask one by one.
    await Promise.all(
      pids.map((pid) =>
        pidusage(pid).then(
          (s) => put(pid, s),
          () => undefined,
        ),
      ),
    );
  }
  return out;
};

/** Rounds seconds for people and JSON alike. */
export function seconds(ms: number): number {
  return Math.max(0, Math.round(ms / 100) / 10);
}
