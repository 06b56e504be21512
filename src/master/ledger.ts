// What the master counts over its whole life, so no counter ever goes down when a worker exits: the last report of
// every exited worker (requests by status and duration, timeouts, its CPU seconds per slot), and the unplanned
// restarts and planned recycles by cause. `stats` master.totals and the Prometheus metrics both read it.
// Not the live workers' own counts (their WorkerHandles) nor the sample (sampler.ts).

import type { RequestCounts } from '../worker/messages.js';
import type { ListenQueue, StatsSnapshot } from '../stats-contract.js';
import type { RecycleLimit } from './recycle.js';
import type { Usage } from './stats.js';
import { workerRows } from './stats.js';
import type { WorkerHandle } from './worker-handle.js';
import type { SlotRecord } from './worker-table.js';
import { addCounts, emptyCounts, WORKER_STATES, type MetricsInput } from './metrics-text.js';

export class Ledger {
  private readonly requests: RequestCounts = emptyCounts();
  private timeouts = 0;
  private requestTotal = 0;
  /** Per slot id: CPU seconds of its processes that have exited. */
  private readonly cpu = new Map<number, number>();
  private readonly restarts: MetricsInput['restarts'] = { crash: 0, 'worker-timeout': 0 };
  private readonly recycles: MetricsInput['recycles'] = { 'max-requests': 0, 'max-memory': 0, 'max-lifetime': 0 };

  /** A worker exited: its last report (its final one when it drained) and its last sampled CPU time stay counted. */
  retire(h: WorkerHandle, usage: Usage | undefined): void {
    addCounts(this.requests, h.counts);
    this.timeouts += h.timeouts;
    this.requestTotal += h.requests;
    if (usage !== undefined) this.cpu.set(h.id, (this.cpu.get(h.id) ?? 0) + usage.cpuSeconds);
  }

  restarted(cause: keyof MetricsInput['restarts']): void {
    this.restarts[cause]++;
  }

  recycled(limit: RecycleLimit): void {
    this.recycles[limit]++;
  }

  /** Over the master's life: live workers' last reports plus what exited workers last reported. */
  totals(live: Iterable<WorkerHandle>): StatsSnapshot['master']['totals'] {
    let timeouts = this.timeouts;
    let requests = this.requestTotal;
    for (const h of live) {
      if (h.state === 'exited') continue;
      timeouts += h.timeouts;
      requests += h.requests;
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return { requests, timeouts, recycles: sum(Object.values(this.recycles)), restarts: sum(Object.values(this.restarts)) };
  }

  /** The metrics' input: these counters plus the live workers' reports and the last sample. */
  metricsInput(
    o: { version: string; startTimeSeconds: number; generation: number; now: number; queue: ListenQueue | null; usage: ReadonlyMap<number, Usage> },
    handles: ReadonlyMap<number, WorkerHandle>,
    slotRecords: ReadonlyMap<number, SlotRecord>,
  ): MetricsInput {
    const requests = addCounts(emptyCounts(), this.requests);
    let inflight = 0;
    const live = [...handles.values()].filter((h) => h.state !== 'exited');
    for (const h of live) {
      addCounts(requests, h.counts);
      inflight += h.inflight;
    }
    const workers = Object.fromEntries(WORKER_STATES.map((s) => [s, 0])) as MetricsInput['workers'];
    for (const row of workerRows(handles.values(), slotRecords, o.now)) workers[row.state]++;
    const slotIds = new Set<number>([...this.cpu.keys(), ...live.map((h) => h.id)]);
    const slots = [...slotIds].sort((a, b) => a - b).map((id) => {
      let cpuSeconds: number | null = this.cpu.get(id) ?? null;
      let memoryBytes: number | null = null;
      for (const h of live) {
        if (h.id !== id) continue;
        const u = o.usage.get(h.pid);
        if (!u) continue;
        cpuSeconds = (cpuSeconds ?? 0) + u.cpuSeconds;
        // Two processes in one slot during a reload: the newer one's memory (the old one is on its way out).
        memoryBytes = u.memory;
      }
      return { id, cpuSeconds, memoryBytes };
    });
    return {
      version: o.version,
      nodeVersion: process.version,
      startTimeSeconds: o.startTimeSeconds,
      generation: o.generation,
      requests,
      inflight,
      workers,
      restarts: { ...this.restarts },
      recycles: { ...this.recycles },
      listenQueue: o.queue,
      slots,
    };
  }
}
