// master/metrics-text.ts and the pure parsers of master/listen-queue.ts: fixed inputs in, exact text out. The real
// kernel figures are checked by test/integration/observe-queue.test.ts; promtool by observe-metrics.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addCounts, emptyCounts, formatMetrics, type MetricsInput } from '../../../src/master/metrics-text.js';
import { parseProcNetTcp, parseSsUnix } from '../../../src/master/listen-queue.js';
import { DURATION_BOUNDS_S } from '../../../src/worker/messages.js';

const PROC_TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:C7C5 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 2050894 4 000000004c5ccb0a 100 0 0 10 0
   1: 00000000:07E8 00000000:0000 0A 00000000:0000000C 00:00000000 00000000     0        0 1080 1 00000000a062dce7 100 0 0 10 0
   2: 0100007F:C7C5 0100007F:D2E4 01 00000000:00000000 00:00000000 00000000     0        0 2050900 1 0000000000000000 20 4 30 10 -1
`;

test('parseProcNetTcp: rx_queue (hex) of the LISTEN row with the inode; tx_queue is not the limit', () => {
  assert.equal(parseProcNetTcp(PROC_TCP, 2050894), 3);
  assert.equal(parseProcNetTcp(PROC_TCP, 1080), 12);
  assert.equal(parseProcNetTcp(PROC_TCP, 2050900), null); // not a listener
  assert.equal(parseProcNetTcp(PROC_TCP, 42), null);
});

test('parseSsUnix: Recv-Q and Send-Q of the LISTEN row whose local port is the inode, paths with spaces too', () => {
  const out = 'u_str LISTEN 3      7      /tmp/obs-q.sock 2050893 * 0\n' + 'u_str LISTEN 0 511 /tmp/a b/app.sock 77 * 0\n' + 'u_str ESTAB 0 0 /tmp/x 78 * 79\n';
  assert.deepEqual(parseSsUnix(out, 2050893), { depth: 3, limit: 7 });
  assert.deepEqual(parseSsUnix(out, 77), { depth: 0, limit: 511 });
  assert.equal(parseSsUnix(out, 78), null);
});

function input(): MetricsInput {
  const requests = emptyCounts();
  requests.codes = [1, 0, 10, 2, 3, 4];
  requests.buckets[0] = 15;
  requests.buckets[DURATION_BOUNDS_S.indexOf(0.5)] = 4;
  requests.buckets[DURATION_BOUNDS_S.length] = 1;
  requests.durationSeconds = 42.5;
  return {
    version: '1.2.3',
    nodeVersion: 'v20.0.0',
    startTimeSeconds: 1700000000,
    generation: 2,
    requests,
    inflight: 3,
    workers: { starting: 0, ready: 2, draining: 1, backoff: 0 },
    restarts: { crash: 5, 'worker-timeout': 1 },
    recycles: { 'max-requests': 0, 'max-memory': 2, 'max-lifetime': 0 },
    listenQueue: { depth: 4, limit: 511 },
    slots: [{ id: 1, cpuSeconds: 1.5, memoryBytes: 1000 }, { id: 2, cpuSeconds: null, memoryBytes: null }],
  };
}

test('formatMetrics: the families, cumulative buckets ending in +Inf = count, labels by slot, escaped values', () => {
  const text = formatMetrics({ ...input(), version: 'a"b\\c\nd' });
  const lines = text.split('\n');
  assert.ok(lines.includes('scgi_supervise_requests_total{code="2xx"} 10'));
  assert.ok(lines.includes('scgi_supervise_requests_total{code="aborted"} 1'));
  assert.ok(!text.includes('code="1xx"'), '1xx only when it happened');
  assert.ok(lines.includes('scgi_supervise_request_duration_seconds_bucket{le="0.001"} 15'));
  assert.ok(lines.includes('scgi_supervise_request_duration_seconds_bucket{le="0.25"} 15'));
  assert.ok(lines.includes('scgi_supervise_request_duration_seconds_bucket{le="0.5"} 19'));
  assert.ok(lines.includes('scgi_supervise_request_duration_seconds_bucket{le="30"} 19'));
  assert.ok(lines.includes('scgi_supervise_request_duration_seconds_bucket{le="+Inf"} 20'));
  assert.ok(lines.includes('scgi_supervise_request_duration_seconds_count 20'));
  assert.ok(lines.includes('scgi_supervise_request_duration_seconds_sum 42.5'));
  assert.ok(lines.includes('scgi_supervise_workers{state="ready"} 2'));
  assert.ok(lines.includes('scgi_supervise_worker_restarts_total{reason="worker-timeout"} 1'));
  assert.ok(lines.includes('scgi_supervise_worker_recycles_total{limit="max-memory"} 2'));
  assert.ok(lines.includes('scgi_supervise_listen_queue_depth 4'));
  assert.ok(lines.includes('scgi_supervise_listen_queue_limit 511'));
  assert.ok(lines.includes('scgi_supervise_worker_cpu_seconds_total{worker="1"} 1.5'));
  assert.ok(!text.includes('worker="2"'), 'no sample for a slot not sampled yet');
  assert.ok(lines.includes('scgi_supervise_build_info{version="a\\"b\\\\c\\nd",node_version="v20.0.0"} 1'));
  assert.ok(text.endsWith('\n'));
  // Every sample line belongs to the family declared above it.
  let family = '';
  for (const line of lines) {
    const m = /^# TYPE (\S+) /.exec(line);
    if (m) family = m[1]!;
    else if (line !== '' && !line.startsWith('#')) assert.ok(line.startsWith(family), `${line} under ${family}`);
  }
});

test('formatMetrics: no queue sample when it could not be read (absent, not a made-up 0)', () => {
  const text = formatMetrics({ ...input(), listenQueue: null });
  assert.ok(text.includes('# TYPE scgi_supervise_listen_queue_depth gauge'));
  assert.doesNotMatch(text, /^scgi_supervise_listen_queue_depth /m);
});

test('addCounts sums codes, buckets and durations', () => {
  const a = emptyCounts();
  const b = emptyCounts();
  b.codes[2] = 3;
  b.buckets[1] = 3;
  b.durationSeconds = 0.006;
  addCounts(addCounts(a, b), b);
  assert.equal(a.codes[2], 6);
  assert.equal(a.buckets[1], 6);
  assert.ok(Math.abs(a.durationSeconds - 0.012) < 1e-12);
  assert.equal(addCounts(a, null), a);
});
