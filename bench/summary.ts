// Aggregates the rounds of one (shape, backend) into what the report shows: the median req/s across rounds, median
// p50/p99, summed errors, median CPU seconds, RSS of the last round, and the ratio to bare-shared. Pure functions.

import type { Sample } from './measure.js';

export interface Summary {
  shape: string;
  backend: string;
  rounds: number;
  rps: number; // median across rounds
  rpsPerRound: number[];
  ratioToBareShared: number | null;
  p50Ms: number;
  p99Ms: number;
  errors: number; // non-2xx + socket errors, all rounds
  cpuBackendS: number; // median per run
  cpuNginxS: number;
  cpuWrkS: number;
  cpuOtherS: number;
  backendUsPerReq: number; // backend CPU per request (median over rounds): less sensitive to machine noise than req/s
  nginxUsPerReq: number;
  durationS: number;
  rssTotalMiB: number;
  rssWorkerMiB: number; // median of the workers' RSS in the last round
  workers: number;
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(samples: Sample[]): Summary[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = s.shape + '\u0000' + s.backend;
    const list = groups.get(key);
    if (list) list.push(s);
    else groups.set(key, [s]);
  }
  const out: Summary[] = [];
  for (const list of groups.values()) {
    const last = list[list.length - 1]!;
    out.push({
      shape: last.shape,
      backend: last.backend,
      rounds: list.length,
      rps: median(list.map((s) => s.rps)),
      rpsPerRound: list.map((s) => s.rps),
      ratioToBareShared: null,
      p50Ms: median(list.map((s) => s.p50Ms)),
      p99Ms: median(list.map((s) => s.p99Ms)),
      errors: list.reduce((sum, s) => sum + s.non2xx + s.socketErrors, 0),
      cpuBackendS: median(list.map((s) => s.cpuBackendS)),
      cpuNginxS: median(list.map((s) => s.cpuNginxS)),
      cpuWrkS: median(list.map((s) => s.cpuWrkS)),
      cpuOtherS: median(list.map((s) => s.cpuOtherS)),
      backendUsPerReq: median(list.map((s) => (s.cpuBackendS / s.requests) * 1e6)),
      nginxUsPerReq: median(list.map((s) => (s.cpuNginxS / s.requests) * 1e6)),
      durationS: last.durationS,
      rssTotalMiB: last.rssTotalKiB / 1024,
      rssWorkerMiB: median(last.rssWorkersKiB) / 1024,
      workers: last.rssWorkersKiB.length,
    });
  }
  for (const s of out) {
    const bare = out.find((b) => b.shape === s.shape && b.backend === 'bare-shared');
    s.ratioToBareShared = bare && bare.rps > 0 ? s.rps / bare.rps : null;
  }
  return out;
}
