// The `stats` snapshot: counters the workers report in their periodic `stats` IPC messages (never one message per
// request), plus cpu/memory from the master's one periodic pidusage sample. The JSON types are the shared contract, ../stats-contract.ts.

import pidusage from 'pidusage';
import { recentCrashes } from './crash-log.js';
import type { WorkerStats } from '../stats-contract.js';
import type { WorkerHandle } from './worker-handle.js';
import type { SlotRecord } from './worker-table.js';

export interface Usage {
  cpu: number;
  memory: number;
  /** CPU time (user + system) since the process started, seconds. */
  cpuSeconds: number;
}

/** pid → usage; a pid that vanished meanwhile is simply missing. */
export type UsageSampler = (pids: number[]) => Promise<Map<number, Usage>>;

export const sampleUsage: UsageSampler = async (pids) => {
  const out = new Map<number, Usage>();
  if (pids.length === 0) return out;
  const put = (pid: number, s: { cpu: number; memory: number; ctime: number } | undefined) => {
    if (s) out.set(pid, { cpu: Math.round(s.cpu * 10) / 10, memory: s.memory, cpuSeconds: s.ctime / 1000 });
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

/** One row per worker process (starting, ready, draining) plus one per slot waiting out a backoff. */
export function workerRows(handles: Iterable<WorkerHandle>, slots: ReadonlyMap<number, SlotRecord>, now: number): WorkerStats[] {
  const rows: WorkerStats[] = [];
  for (const h of handles) {
    if (h.state === 'exited') continue;
    const slot = slots.get(h.id);
    rows.push({
      id: h.id,
      pid: h.pid,
      state: h.state,
      generation: h.generation,
      uptime: seconds(now - h.startedAt),
      requests: h.requests,
      inflight: h.inflight,
      timeouts: h.timeouts,
      restarts: slot?.restarts ?? h.restarts,
      recycles: slot?.recycles ?? 0,
      recentRestarts: slot ? recentCrashes(slot, now) : 0,
      lastExit: slot?.lastExit ?? null,
      cpu: null,
      memory: null,
    });
  }
  for (const [id, slot] of slots) {
    if (slot.backoffUntil === null || slot.backoffUntil <= now || rows.some((r) => r.id === id)) continue;
    rows.push({ id, pid: null, state: 'backoff', generation: slot.generation, uptime: 0, requests: 0, inflight: 0, timeouts: 0, restarts: slot.restarts, recycles: slot.recycles, recentRestarts: recentCrashes(slot, now), lastExit: slot.lastExit, cpu: null, memory: null });
  }
  return rows.sort((a, b) => a.id - b.id || a.generation - b.generation);
}

/** Fills cpu/memory from the last sample; a pid it has not seen yet keeps null. */
export function withUsage(rows: WorkerStats[], usage: ReadonlyMap<number, Usage>): WorkerStats[] {
  for (const r of rows) {
    const u = r.pid === null ? undefined : usage.get(r.pid);
    if (u) {
      r.cpu = u.cpu;
      r.memory = u.memory;
    }
  }
  return rows;
}
