// One measurement: (optional warm-up, then) wrk through nginx against one running backend, with the CPU seconds of the
// backend's process tree and of nginx sampled from /proc around it, and the backend's RSS at the end. Not the
// rounds or the aggregation (run.ts, summary.ts).

import { cpuDelta, cpuSeconds, machineBusySeconds, processTree, readStat, rssKiB } from './proc-stats.js';
import type { ProcessGroup } from './process-group.js';
import { runWrk, type WrkResult } from './wrk.js';

export interface Sample {
  shape: string;
  backend: string;
  round: number;
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: number;
  cpuBackendS: number;
  cpuNginxS: number;
  cpuWrkS: number;
  cpuOtherS: number; // the rest of the machine during the run (other processes, unattributed softirq): noise
  rssTotalKiB: number; // whole backend tree (master + workers)
  rssWorkersKiB: number[]; // each direct child of the backend's leader
  durationS: number;
}

export interface MeasureOptions {
  shape: string;
  backend: string;
  round: number;
  group: ProcessGroup;
  nginx: ProcessGroup;
  url: string;
  connections: number;
  durationS: number;
  warmupS: number;
  script?: string;
}

export async function measure(o: MeasureOptions): Promise<Sample> {
  if (o.warmupS > 0) await runWrk({ url: o.url, connections: o.connections, durationS: o.warmupS, script: o.script });
  const backendPids = o.group.tree();
  const nginxPids = processTree(o.nginx.pid);
  const beforeBackend = cpuSeconds(backendPids);
  const beforeNginx = cpuSeconds(nginxPids);
  const beforeBusy = machineBusySeconds();
  const wrk: WrkResult = await runWrk({ url: o.url, connections: o.connections, durationS: o.durationS, script: o.script });
  // New pids (a respawned worker) count from zero; a pid that died during the run loses its last ticks (rare, logged by errors).
  const afterPids = o.group.tree();
  const cpuBackendS = cpuDelta(beforeBackend, cpuSeconds(afterPids));
  const cpuNginxS = cpuDelta(beforeNginx, cpuSeconds(processTree(o.nginx.pid)));
  const busyS = machineBusySeconds() - beforeBusy;
  const leader = afterPids[0];
  const workers = afterPids.slice(1).filter((pid) => isChildOf(pid, leader));
  return {
    shape: o.shape,
    backend: o.backend,
    round: o.round,
    rps: wrk.rps,
    requests: wrk.requests,
    p50Ms: wrk.p50Ms,
    p99Ms: wrk.p99Ms,
    non2xx: wrk.non2xx,
    socketErrors: wrk.socketErrors,
    cpuBackendS,
    cpuNginxS,
    cpuWrkS: wrk.wrkCpuS,
    cpuOtherS: Math.max(0, busyS - cpuBackendS - cpuNginxS - wrk.wrkCpuS),
    rssTotalKiB: afterPids.reduce((sum, pid) => sum + rssKiB(pid), 0),
    rssWorkersKiB: workers.map(rssKiB),
    durationS: o.durationS,
  };
}

function isChildOf(pid: number, parent: number | undefined): boolean {
  return parent !== undefined && readStat(pid)?.ppid === parent;
}
