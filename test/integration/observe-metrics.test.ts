// Prometheus metrics end to end (docs/metrics.md): a known mix of requests through a real nginx, then GET /metrics on
// --metrics-listen: the totals and the histogram match what was sent, the slow requests sit in the right buckets,
// workers{state="ready"} = N; `promtool check metrics` accepts the text; after kill -9 of a worker no counter has gone
// down; a real Prometheus (loopback, temp dir, ephemeral port, stopped by pid) scrapes it and answers a query. The
// docs' scrape config and alerts pass `promtool check config`, `check rules` and `test rules`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpGet } from 'node:http';
import { connect } from 'node:net';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSupervisor } from '../helpers/supervisor.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { freePort, makeTempDir, removeDir, signalPid, spawnCollecting, stopProcess } from '../helpers/frontends/process-utils.js';
import { ROOT } from '../helpers/paths.js';
import { request as scgiRequest } from '../helpers/scgi-raw.js';
import { pollFor, runCli } from './control-helpers.js';

const WORKERS = 2;
const FAST = 150;
const SLOW = 8; // /slow?ms=400: above the 0.25 s bucket, within 1 s
const NOT_FOUND = 10;
const THROWN = 4;
const TOTAL = FAST + SLOW + NOT_FOUND + THROWN;
const PROMTOOL = '/usr/bin/promtool';
const PROMETHEUS = '/usr/bin/prometheus';

/** `name{labels} value` lines → map of series → value (HELP/TYPE skipped). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function value(m: Map<string, number>, series: string): number {
  const v = m.get(series);
  assert.ok(v !== undefined, `no series ${series}`);
  return v;
}

function requestsTotal(m: Map<string, number>): number {
  let sum = 0;
  for (const [k, v] of m) if (k.startsWith('scgi_supervise_requests_total{')) sum += v;
  return sum;
}

/** Runs a tool with `input` on stdin; resolves with its exit code and output. Bounded. */
function run(cmd: string, args: string[], input = '', cwd?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      signalPid(child.pid!, 'SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not exit within 20 s: ${out}`));
    }, 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    child.stdin.end(input);
  });
}

/** Sends `count` GETs of `path` through nginx, `concurrency` at a time; returns the statuses. */
async function load(port: number, path: string, count: number, concurrency: number): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        statuses.push((await httpRequest({ port, path, timeoutMs: 10_000 })).status);
      }
    }),
  );
  return statuses;
}

test('metrics through nginx: totals, buckets, workers, promtool, kill -9, a real Prometheus scrape', async (t) => {
  const dir = await makeTempDir('observe-metrics');
  t.after(() => removeDir(dir));
  const controlDir = join(dir, 'ctl');
  await mkdir(controlDir, { mode: 0o700 });
  const control = join(controlDir, 'ctl.sock');
  const metricsPort = await freePort();
  const sup = await startSupervisor({
    app: 'observe.cjs',
    workers: WORKERS,
    t,
    args: ['--control', control, '--stats-interval', '0.2', '--metrics-listen', `127.0.0.1:${metricsPort}`],
  });
  assert.ok('port' in sup.connect);
  const nginx = await startNginx({ backends: { tcp: sup.connect }, t });
  const port = nginx.ports.tcp!;
  const scrape = async (): Promise<string> => {
    const r = await httpRequest({ port: metricsPort, path: '/metrics', timeoutMs: 5000 });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    return r.body.toString('utf8');
  };

  const statuses = (
    await Promise.all([
      load(port, '/ok', FAST, 4),
      load(port, '/slow?ms=400', SLOW, SLOW),
      load(port, '/status/404', NOT_FOUND, 2),
      load(port, '/throw', THROWN, 1),
    ])
  ).flat();
  assert.equal(statuses.length, TOTAL);
  assert.equal(statuses.filter((s) => s === 200).length, FAST + SLOW);

  // Workers report every 0.2 s: wait until the reports cover what was sent (nginx's readiness probe adds a request
  // or two of its own, hence "at least").
  const text = await pollFor('the workers\' reports to cover every request', 5000, async () => {
    const t0 = await scrape();
    const s = samples(t0);
    // The slow requests end last: their reports are in once the count above 0.25 s reaches SLOW (if they were put in
    // a wrong bucket, this times out and the test fails).
    const above = (s.get('scgi_supervise_request_duration_seconds_count') ?? 0) - (s.get('scgi_supervise_request_duration_seconds_bucket{le="0.25"}') ?? 0);
    return requestsTotal(s) >= TOTAL && above >= SLOW ? t0 : undefined;
  });
  const m = samples(text);
  const within5 = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= want * 0.05, `${what}: ${got}, expected ${want} ± 5 %`);
  within5(requestsTotal(m), TOTAL, 'requests_total');
  within5(value(m, 'scgi_supervise_requests_total{code="2xx"}'), FAST + SLOW, '2xx');
  within5(value(m, 'scgi_supervise_requests_total{code="4xx"}'), NOT_FOUND, '4xx');
  within5(value(m, 'scgi_supervise_requests_total{code="5xx"}'), THROWN, '5xx');
  const count = value(m, 'scgi_supervise_request_duration_seconds_count');
  within5(count, TOTAL, 'histogram count');
  assert.equal(value(m, 'scgi_supervise_request_duration_seconds_bucket{le="+Inf"}'), count);
  // The slow ones (400 ms) are above the 0.25 s bucket and within 1 s; the sum holds at least their time.
  const le025 = value(m, 'scgi_supervise_request_duration_seconds_bucket{le="0.25"}');
  const le1 = value(m, 'scgi_supervise_request_duration_seconds_bucket{le="1"}');
  assert.ok(count - le025 >= SLOW, `${count - le025} requests above 0.25 s, expected at least ${SLOW}`);
  assert.ok(le1 - le025 >= SLOW, `${le1 - le025} requests in (0.25 s, 1 s], expected at least ${SLOW}`);
  assert.ok(value(m, 'scgi_supervise_request_duration_seconds_sum') >= SLOW * 0.4);
  assert.equal(value(m, `scgi_supervise_workers{state="ready"}`), WORKERS);
  assert.equal(value(m, 'scgi_supervise_requests_in_flight'), 0);
  assert.equal(value(m, 'scgi_supervise_listen_queue_depth'), 0);
  assert.ok(value(m, 'scgi_supervise_listen_queue_limit') > 0);
  assert.equal(value(m, 'scgi_supervise_generation'), 1);

  const checked = await run(PROMTOOL, ['check', 'metrics'], text);
  assert.equal(checked.code, 0, `promtool check metrics:\n${checked.out}`);

  // The verb prints the same families through the control socket.
  const verb = await runCli(['metrics', '--control', control], 15_000);
  assert.equal(verb.code, 0, verb.stderr);
  assert.deepEqual([...samples(verb.stdout).keys()].sort(), [...m.keys()].sort());

  // kill -9 of a worker: its counts stay in the totals, no counter goes down, the restart is counted.
  const before = samples(await scrape());
  const victim = sup.workerPids()[0]!;
  signalPid(victim, 'SIGKILL');
  const after = samples(
    await pollFor('the killed worker replaced and counted', 10_000, async () => {
      const t1 = await scrape();
      const s = samples(t1);
      return s.get('scgi_supervise_worker_restarts_total{reason="crash"}') === 1 && s.get('scgi_supervise_workers{state="ready"}') === WORKERS ? t1 : undefined;
    }),
  );
  for (const [series, v] of before) {
    if (!/_total\{|_total |_bucket\{|_count |_sum /.test(series + ' ')) continue;
    const now = after.get(series);
    assert.ok(now !== undefined && now >= v, `${series} went from ${v} to ${now}`);
  }
  assert.ok(requestsTotal(after) >= TOTAL * 0.95);

  // A rolling reload replaces every worker by a planned exit (the path recycling takes too): still nothing goes down.
  const reloaded = await runCli(['reload', '--control', control], 30_000);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  const afterReload = samples(await scrape());
  assert.equal(afterReload.get('scgi_supervise_generation'), 2);
  for (const [series, v] of after) {
    if (!/_total\{|_total |_bucket\{|_count |_sum /.test(series + ' ')) continue;
    const now = afterReload.get(series);
    assert.ok(now !== undefined && now >= v, `after reload, ${series} went from ${v} to ${now}`);
  }

  // A real Prometheus scrapes it and answers a query on scgi_supervise_requests_total.
  const promPort = await freePort();
  const promDir = join(dir, 'prometheus');
  await mkdir(promDir);
  await writeFile(
    join(promDir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: scgi-supervise\n    static_configs:\n      - targets: ['127.0.0.1:${metricsPort}']\n`,
  );
  const prom = spawnCollecting(PROMETHEUS, [
    `--config.file=${join(promDir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(promDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  t.after(() => stopProcess(prom.proc, { signal: 'SIGTERM', graceMs: 5000 }));
  const answered = await pollFor(`Prometheus to scrape and answer (log: ${prom.output().slice(-300)})`, 30_000, async () => {
    try {
      const r = await httpRequest({ port: promPort, path: '/api/v1/query?query=sum(scgi_supervise_requests_total)', timeoutMs: 2000 });
      if (r.status !== 200) return undefined;
      const body = JSON.parse(r.body.toString()) as { data: { result: { value: [number, string] }[] } };
      const v = body.data.result[0]?.value[1];
      return v !== undefined && Number(v) >= TOTAL * 0.95 ? Number(v) : undefined;
    } catch {
      return undefined; // not listening yet
    }
  }, 250);
  assert.ok(answered >= TOTAL * 0.95);
});

test('docs/prometheus: the scrape config, the two alerts and their rule tests pass promtool', async (t) => {
  const dir = await makeTempDir('observe-promtool');
  t.after(() => removeDir(dir));
  const src = join(ROOT, 'docs', 'prometheus');
  for (const f of ['prometheus.yml', 'alerts.yml', 'alerts.test.yml']) await copyFile(join(src, f), join(dir, f));
  for (const args of [['check', 'config', 'prometheus.yml'], ['check', 'rules', 'alerts.yml'], ['test', 'rules', 'alerts.test.yml']]) {
    const r = await run(PROMTOOL, args, '', dir);
    assert.equal(r.code, 0, `promtool ${args.join(' ')}:\n${r.out}`);
  }
  // docs/metrics.md shows these files as they are.
  const doc = await readFile(join(ROOT, 'docs', 'metrics.md'), 'utf8');
  for (const f of ['prometheus.yml', 'alerts.yml']) {
    const body = (await readFile(join(src, f), 'utf8')).trim();
    assert.ok(doc.includes(body), `docs/metrics.md does not show docs/prometheus/${f} as it is`);
  }
});

test('metrics on unix:PATH; a client gone before the answer counts as aborted; only GET /metrics is served', async (t) => {
  const dir = await makeTempDir('observe-metrics-unix');
  t.after(() => removeDir(dir));
  const controlDir = join(dir, 'ctl');
  await mkdir(controlDir, { mode: 0o700 });
  const socketPath = join(dir, 'metrics.sock');
  const sup = await startSupervisor({
    app: 'observe.cjs',
    workers: 1,
    t,
    args: ['--control', join(controlDir, 'ctl.sock'), '--stats-interval', '0.1', '--metrics-listen', `unix:${socketPath}`],
  });
  await sup.waitForLog(/metrics on http:\/\/unix:/);
  const get = (path: string, method = 'GET') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpGet({ socketPath, path, method, agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  assert.equal((await get('/')).status, 404);
  assert.equal((await get('/metrics', 'POST')).status, 405);

  // The client sends a request to /slow and leaves before the answer: the handler ran, no response went out.
  const s = 'path' in sup.connect ? connect(sup.connect.path) : connect(sup.connect.port, sup.connect.host);
  s.write(scgiRequest('GET', '/slow?ms=300'));
  s.on('error', () => undefined);
  setTimeout(() => s.destroy(), 50);
  const text = await pollFor('the aborted request in the metrics', 5000, async () => {
    const r = await get('/metrics');
    return r.status === 200 && samples(r.body).get('scgi_supervise_requests_total{code="aborted"}') === 1 ? r.body : undefined;
  });
  assert.equal(value(samples(text), 'scgi_supervise_request_duration_seconds_count'), 1);
});
