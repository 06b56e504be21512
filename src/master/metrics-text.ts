// The Prometheus text exposition (format 0.0.4) of one MetricsInput: a pure function, no I/O, no clock. The
// numbers come from master.ts (last sample + the workers' last stats messages); control/metrics-server.ts serves
// the text on GET /metrics and the `metrics` control command returns it. docs/metrics.md documents each family.
// Hand-written, not prom-client (docs/metrics.md "Why no client library"): the master only copies numbers it holds;
// the worker-side histogram is plain bucket counts in the stats message.

import { DURATION_BOUNDS_S, type RequestCounts } from '../worker/messages.js';
import type { ListenQueue } from './listen-queue.js';


export const RESTART_REASONS = ['crash', 'worker-timeout'] as const;
export const RECYCLE_LIMITS = ['max-requests', 'max-memory', 'max-lifetime'] as const;
export const WORKER_STATES = ['starting', 'ready', 'draining', 'backoff'] as const;

export interface MetricsInput {
  version: string;
  nodeVersion: string;
  /** Seconds since the epoch. */
  startTimeSeconds: number;
  generation: number;
  /** Every worker that ever ran, the dead ones included. */
  requests: RequestCounts;
  inflight: number;
  workers: Record<(typeof WORKER_STATES)[number], number>;
  restarts: Record<(typeof RESTART_REASONS)[number], number>;
  recycles: Record<(typeof RECYCLE_LIMITS)[number], number>;
  listenQueue: ListenQueue | null;
  /** Per slot id: CPU seconds of every process that ran in the slot; resident memory of the current one. */
  slots: { id: number; cpuSeconds: number | null; memoryBytes: number | null }[];
}

const CODE_LABELS = ['aborted', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** Label values: backslash, double quote and newline escaped (exposition format). */
function esc(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

export function formatMetrics(m: MetricsInput): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const sample = (name: string, labels: Record<string, string> | null, value: number): void => {
    const l = labels === null ? '' : `{${Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`;
    out.push(`${name}${l} ${num(value)}`);
  };

  family('scgi_supervise_requests_total', 'counter', 'Requests handed to the app that are over, by response status class (aborted: no response was sent).');
  // 1xx is never a final answer through SCGI in practice; it is shown only when it happened.
  CODE_LABELS.forEach((code, i) => {
    if (i !== 1 || m.requests.codes[1]! > 0) sample('scgi_supervise_requests_total', { code }, m.requests.codes[i] ?? 0);
  });

  family('scgi_supervise_request_duration_seconds', 'histogram', 'Time from the handler start to the response end.');
  let cumulative = 0;
  DURATION_BOUNDS_S.forEach((le, i) => {
    cumulative += m.requests.buckets[i] ?? 0;
    sample('scgi_supervise_request_duration_seconds_bucket', { le: String(le) }, cumulative);
  });
  cumulative += m.requests.buckets[DURATION_BOUNDS_S.length] ?? 0;
  sample('scgi_supervise_request_duration_seconds_bucket', { le: '+Inf' }, cumulative);
  sample('scgi_supervise_request_duration_seconds_sum', null, m.requests.durationSeconds);
  sample('scgi_supervise_request_duration_seconds_count', null, cumulative);

  family('scgi_supervise_requests_in_flight', 'gauge', 'Requests the app is handling now (as of the workers\' last reports).');
  sample('scgi_supervise_requests_in_flight', null, m.inflight);

  family('scgi_supervise_workers', 'gauge', 'Worker slots by state (backoff: waiting to respawn after a crash).');
  for (const state of WORKER_STATES) sample('scgi_supervise_workers', { state }, m.workers[state]);

  family('scgi_supervise_worker_restarts_total', 'counter', 'Unplanned worker exits, each followed by a respawn.');
  for (const reason of RESTART_REASONS) sample('scgi_supervise_worker_restarts_total', { reason }, m.restarts[reason]);

  family('scgi_supervise_worker_recycles_total', 'counter', 'Planned worker replacements when a limit was reached.');
  for (const limit of RECYCLE_LIMITS) sample('scgi_supervise_worker_recycles_total', { limit }, m.recycles[limit]);

  // No sample when the queue could not be read: an absent series alerts as "absent", a made-up 0 would not.
  family('scgi_supervise_listen_queue_depth', 'gauge', 'Connections waiting in the kernel accept queue of the listening socket.');
  if (m.listenQueue !== null) sample('scgi_supervise_listen_queue_depth', null, m.listenQueue.depth);
  family('scgi_supervise_listen_queue_limit', 'gauge', 'How many connections the accept queue holds (min of backlog and net.core.somaxconn).');
  if (m.listenQueue !== null) sample('scgi_supervise_listen_queue_limit', null, m.listenQueue.limit);

  family('scgi_supervise_worker_cpu_seconds_total', 'counter', 'CPU time (user + system) of the processes of a worker slot, the replaced ones included.');
  for (const s of m.slots) if (s.cpuSeconds !== null) sample('scgi_supervise_worker_cpu_seconds_total', { worker: String(s.id) }, s.cpuSeconds);
  family('scgi_supervise_worker_resident_memory_bytes', 'gauge', 'Resident memory of the worker process in a slot.');
  for (const s of m.slots) if (s.memoryBytes !== null) sample('scgi_supervise_worker_resident_memory_bytes', { worker: String(s.id) }, s.memoryBytes);

  family('scgi_supervise_generation', 'gauge', 'Code generation: 1 at start, +1 per completed reload.');
  sample('scgi_supervise_generation', null, m.generation);
  family('scgi_supervise_start_time_seconds', 'gauge', 'When the master started, seconds since the Unix epoch.');
  sample('scgi_supervise_start_time_seconds', null, m.startTimeSeconds);
  family('scgi_supervise_build_info', 'gauge', 'Always 1; the labels say which scgi-supervise and Node run.');
  sample('scgi_supervise_build_info', { version: m.version, node_version: m.nodeVersion }, 1);
  return out.join('\n') + '\n';
}

/** Sums the counters of several workers (or adds one worker's to a total). */
export function addCounts(into: RequestCounts, from: RequestCounts | null): RequestCounts {
  if (from === null) return into;
  from.codes.forEach((n, i) => (into.codes[i] = (into.codes[i] ?? 0) + n));
  from.buckets.forEach((n, i) => (into.buckets[i] = (into.buckets[i] ?? 0) + n));
  into.durationSeconds += from.durationSeconds;
  return into;
}

export function emptyCounts(): RequestCounts {
  return { codes: [0, 0, 0, 0, 0, 0], buckets: DURATION_BOUNDS_S.map(() => 0).concat(0), durationSeconds: 0 };
}
