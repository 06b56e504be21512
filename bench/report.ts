// Renders the summaries, exclusions and lifecycle figures as Markdown (stdout, bench/results/latest.md and the
// results section of docs/benchmarks.md). Not the chart (chart-svg.ts).

import os from 'node:os';
import type { Summary } from './summary.js';

export interface Excluded {
  shape: string;
  backend: string;
  reason: string;
}

export interface Lifecycle {
  workerRssMiB?: { product: number; bare: number; deltaMiB: number; productIdle: number; bareIdle: number; targetMiB: number };
  respawnMs?: { samples: number[]; median: number; max: number; detectMedian: number; targetMs: number };
  reload?: Array<{ surge: number; workers: number; commandMs: number; allReadyMs: number; errors: number; requests: number; underLoad?: boolean; targetMs: number } | { surge: number; error: string }>;
  notes: string[];
}

const f = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const sign = (v: number) => (v >= 0 ? '+' : '') + f(v, 1);
const k = (v: number) => (Number.isFinite(v) ? (v >= 10_000 ? (v / 1000).toFixed(1) + 'k' : v.toFixed(0)) : '–');

export function renderTables(summaries: Summary[], excluded: Excluded[]): string {
  const shapes = [...new Set([...summaries.map((s) => s.shape), ...excluded.map((e) => e.shape)])];
  const parts: string[] = [];
  for (const shape of shapes) {
    const rows = summaries.filter((s) => s.shape === shape).sort((a, b) => b.rps - a.rps);
    parts.push(`#### ${shape}\n`);
    parts.push('| backend | req/s (median) | × bare-shared | req/s per round | p50 ms | p99 ms | errors | CPU µs/req backend / nginx | CPU s backend / nginx / wrk / other (per run) | RSS total MiB | RSS per worker MiB |');
    parts.push('|---|---:|---:|---|---:|---:|---:|---|---|---:|---:|');
    for (const s of rows) {
      const ratio = s.ratioToBareShared === null ? '–' : s.ratioToBareShared.toFixed(2);
      parts.push(
        `| ${s.backend} | ${f(s.rps)} | ${ratio} | ${s.rpsPerRound.map(k).join(' / ')} | ${f(s.p50Ms, 2)} | ${f(s.p99Ms, 2)} | ${s.errors} | ` +
          `${f(s.backendUsPerReq, 1)} / ${f(s.nginxUsPerReq, 1)} | ${f(s.cpuBackendS, 1)} / ${f(s.cpuNginxS, 1)} / ${f(s.cpuWrkS, 1)} / ${f(s.cpuOtherS, 1)} of ${s.durationS} s | ${f(s.rssTotalMiB, 1)} | ${f(s.rssWorkerMiB, 1)} × ${s.workers} |`,
      );
    }
    parts.push('');
    const product = rows.find((s) => s.backend === 'product');
    const baseline = rows.find((s) => s.backend === 'baseline');
    if (product && baseline && baseline.rps > 0) {
      // The before/after figure the issues ask for: the same product at two commits, in the same interleaved rounds.
      parts.push(`**product ÷ baseline: ${(product.rps / baseline.rps).toFixed(3)}× req/s** (backend CPU per request ${f(product.backendUsPerReq, 1)} vs ${f(baseline.backendUsPerReq, 1)} µs; p99 ${f(product.p99Ms, 2)} vs ${f(baseline.p99Ms, 2)} ms)\n`);
    }
    for (const s of rows) parts.push(`- ${s.backend}: ${cpuBound(s)}`);
    for (const e of excluded.filter((x) => x.shape === shape)) parts.push(`| ${e.backend} | excluded: ${e.reason.split('\n')[0]!.replace(/\|/g, '\\|')} | | | | | | | | | |`);
    parts.push('');
  }
  return parts.join('\n');
}

/** Who is CPU-bound in a run: each party's CPU as cores busy (CPU seconds / wall seconds), and the machine's total. */
export function cpuBound(s: Summary, cores = os.availableParallelism()): string {
  const c = (v: number) => (v / s.durationS).toFixed(2);
  const total = (s.cpuBackendS + s.cpuNginxS + s.cpuWrkS + s.cpuOtherS) / s.durationS;
  const verdict: string[] = [];
  if (s.cpuNginxS / s.durationS >= 0.9) verdict.push('nginx (one worker) is saturated');
  if (total >= 0.95 * cores) verdict.push(`the machine's ${cores} CPUs are saturated`);
  if (s.cpuBackendS / s.durationS >= 0.9 * Math.min(s.workers || 1, cores)) verdict.push('the backend is CPU-bound');
  // A model, not a measurement: what this run's CPU cost per request would allow if nothing else used the CPUs.
  const wrkUs = (s.cpuWrkS / s.durationS / Math.max(s.rps, 1)) * 1e6;
  const costUs = s.backendUsPerReq + s.nginxUsPerReq + wrkUs;
  const bound = Math.min((cores * 1e6) / costUs, 1e6 / s.nginxUsPerReq);
  return (
    `cores busy: backend ${c(s.cpuBackendS)}, nginx ${c(s.cpuNginxS)}, wrk ${c(s.cpuWrkS)}, other ${c(s.cpuOtherS)}; machine ${total.toFixed(2)} of ${cores}${verdict.length ? ' → ' + verdict.join('; ') : ''}. ` +
    `CPU per request backend + nginx + wrk = ${costUs.toFixed(0)} µs: on ${cores} otherwise idle CPUs at most ~${(bound / 1000).toFixed(1)}k req/s (nginx's one worker alone caps at ~${(1e3 / s.nginxUsPerReq).toFixed(1)}k)`
  );
}

export function renderLifecycle(l: Lifecycle): string {
  const lines = ['| measure | result | target |', '|---|---|---|'];
  if (l.workerRssMiB) {
    const r = l.workerRssMiB;
    lines.push(`| worker RSS, product vs bare-shared worker, idle (before load) | ${f(r.productIdle, 1)} vs ${f(r.bareIdle, 1)} MiB (${sign(r.productIdle - r.bareIdle)} MiB) | ≤ +${r.targetMiB} MiB |`);
    lines.push(`| worker RSS, product vs bare-shared worker, after the last round | ${f(r.product, 1)} vs ${f(r.bare, 1)} MiB (${sign(r.deltaMiB)} MiB) | ≤ +${r.targetMiB} MiB |`);
  }
  if (l.respawnMs) {
    const r = l.respawnMs;
    lines.push(`| kill -9 a worker → replacement logs ready (no load) | median ${f(r.median)} ms, max ${f(r.max)} ms (${r.samples.length} kills; exit seen by the master after ${f(r.detectMedian)} ms) | < ${r.targetMs} ms |`);
  }
  for (const r of l.reload ?? []) {
    if ('error' in r) lines.push(`| rolling reload, --reload-surge ${r.surge} | not measured: ${r.error.split('\n')[0]} | < 2000 ms |`);
    else {
      const loaded = r.underLoad !== false;
      const outcome = loaded ? `; ${r.errors} errors in ${r.requests} requests` : '';
      lines.push(`| rolling reload of ${r.workers} workers ${loaded ? 'under wrk -c32' : 'without load'}, --reload-surge ${r.surge} | command ${f(r.commandMs)} ms, last new worker ready at ${f(r.allReadyMs)} ms${outcome} | < ${r.targetMs} ms |`);
    }
  }
  for (const note of l.notes) lines.push(`| note | ${note.replace(/\|/g, '\\|')} | |`);
  return lines.join('\n') + '\n';
}
