// `stats` against the real supervisor (issue 4 "Stats"): the --json field names of control/target.ts, the sum of
// `requests` equals the requests sent, `restarts` and `lastExit` after a kill -9, plausible cpu and memory, the table,
// the control socket's modes (and a real other user refused), and the exit code and message when nothing runs at the path.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { resolveControlPath } from '../../src/control/paths.js';
import { parseListenAddress } from '../../src/config/listen-address.js';
import { EXIT_NOT_RUNNING } from '../../src/cli/format.js';
import type { StatsSnapshot } from '../../src/stats-contract.js';
import { type Supervised, get, pollFor, runCli, startVersioned, sum } from './control-helpers.js';

describe('stats against a running supervisor', { timeout: 90_000 }, () => {
  let s: Supervised;
  before(async () => {
    s = await startVersioned({ workers: 2 });
  });
  after(async () => {
    await s?.cleanup();
  });

  test('stats --json has exactly the documented fields, with plausible values', async () => {
    // cpu/memory come from the periodic sample (--stats-interval, 1 s here), never sampled on demand: wait for one.
    await pollFor('a cpu/memory sample of every worker', 5000, async () => {
      const x = await s.stats();
      return x.workers.length === 2 && x.workers.every((w) => w.memory !== null) ? x : undefined;
    });
    const r = await s.verb(['stats', '--json'], 15_000); // the verb's own output (s.stats() asks in-process)
    assert.equal(r.code, 0, r.stderr);
    const snap = JSON.parse(r.stdout) as StatsSnapshot;
    assert.deepEqual(Object.keys(snap).sort(), ['master', 'workers']);
    assert.deepEqual(Object.keys(snap.master).sort(), ['config', 'generation', 'listen', 'listenQueue', 'pid', 'totals', 'uptime', 'version', 'workers']);
    assert.equal(snap.master.config.workers, 2, 'master.config: the config in effect'); // this test starts with -w 2
    assert.equal(snap.master.pid, s.pid);
    assert.equal(snap.master.listen, s.listen);
    assert.equal(snap.master.workers, 2);
    assert.equal(snap.master.generation, 1);
    assert.match(snap.master.version, /^\d+\.\d+\.\d+/);
    assert.ok(snap.master.uptime >= 0 && snap.master.uptime < 60);
    assert.equal(snap.workers.length, 2);
    for (const w of snap.workers) {
      assert.deepEqual(Object.keys(w).sort(), [
        'cpu', 'generation', 'id', 'inflight', 'lastExit', 'memory', 'pid', 'recentRestarts', 'recycles', 'requests', 'restarts', 'state', 'timeouts', 'uptime',
      ]);
      assert.equal(w.state, 'ready');
      assert.equal(w.generation, 1);
      assert.equal(typeof w.pid, 'number');
      assert.ok(s.sup.workerPids().includes(w.pid!), `pid ${w.pid} is a ready worker`);
      assert.equal(w.restarts, 0);
      assert.equal(w.recentRestarts, 0);
      assert.equal(w.lastExit, null);
      assert.equal(w.inflight, 0);
      assert.equal(w.timeouts, 0);
      // A Node worker's RSS is tens of MiB; cpu is a percent of one core.
      assert.ok(w.memory !== null && w.memory > 5 * 2 ** 20 && w.memory < 2 ** 30, `memory ${w.memory}`);
      assert.ok(w.cpu !== null && w.cpu >= 0 && w.cpu <= 100, `cpu ${w.cpu}`);
    }
    assert.deepEqual(new Set(snap.workers.map((w) => w.id)).size, 2, 'distinct slot ids');
  });

  test('the sum of `requests` equals the requests sent (counters may lag ≤ about a second)', async () => {
    const before = sum((await s.stats()).workers.map((w) => w.requests));
    const N = 300;
    for (let i = 0; i < N; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => get(s.target, '/count')));
      for (const r of batch) assert.equal(r.status, 200, r.body);
    }
    const total = await pollFor('requests to add up', 4000, async () => {
      const n = sum((await s.stats()).workers.map((w) => w.requests)) - before;
      return n >= N ? n : undefined;
    }, 100);
    assert.equal(total, N);
    // Both workers took some (the kernel spreads accepts); not required, but a zero would hint at a lost counter.
    const snap = await s.stats();
    assert.equal(sum(snap.workers.map((w) => w.requests)) - before, N, 'and it stays there');
  });

  test('kill -9 a worker: its slot restarts (restarts 1, lastExit SIGKILL crash), the other is untouched', async () => {
    const snap = await s.stats();
    const victim = snap.workers[0]!;
    const other = snap.workers[1]!;
    process.kill(victim.pid!, 'SIGKILL');
    const after = await pollFor('the slot to be ready again with a new pid', 10_000, async () => {
      const now = await s.stats();
      const w = now.workers.find((x) => x.id === victim.id && x.state === 'ready' && x.pid !== victim.pid);
      return w ? now : undefined;
    }, 100);
    const w = after.workers.find((x) => x.id === victim.id)!;
    assert.equal(w.restarts, 1);
    assert.equal(w.recentRestarts, 1);
    assert.deepEqual(w.lastExit, { code: null, signal: 'SIGKILL', reason: 'crash' });
    const o = after.workers.find((x) => x.id === other.id)!;
    assert.equal(o.pid, other.pid);
    assert.equal(o.restarts, 0);
    assert.equal(o.recentRestarts, 0);
    assert.equal(after.workers.length, 2);
    assert.equal((await get(s.target)).status, 200);
  });

  test('the human table: a master line, a header and one row per worker', async () => {
    const r = await s.verb(['stats']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^master pid ${s.pid}, `));
    assert.match(lines[1]!, /^\s*ID\s+PID\s+STATE\s+GEN\s+UPTIME\s+REQUESTS\s+INFLIGHT\s+RESTARTS\s+IN 60S\s+RECYCLES\s+CPU%\s+MEM MiB\s+LAST EXIT$/);
    assert.equal(lines.length, 4);
    for (const line of lines.slice(2)) assert.match(line, /^\s*\d+\s+\d+\s+ready\s+1\s/);
  });

  test('the control socket is 0600 in a 0700 directory, at the path the rule derives from --listen', () => {
    const path = resolveControlPath({ listen: parseListenAddress(s.listen) });
    const sock = statSync(path);
    assert.ok(sock.isSocket());
    assert.equal(sock.mode & 0o777, 0o600);
    assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);
  });

  test('another user (nobody) cannot connect to the real control socket', async () => {
    assert.equal(process.getuid!(), 0, 'running a process as nobody needs root (the tests run as root in CI)');
    const path = resolveControlPath({ listen: parseListenAddress(s.listen) });
    const script = `const c = require('net').createConnection(${JSON.stringify(path)});
      c.on('connect', () => { console.log('connected'); c.destroy(); });
      c.on('error', (e) => console.log(e.code));`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('error', reject);
      child.on('exit', () => {
        clearTimeout(timer);
        resolve(text.trim());
      });
    });
    assert.equal(out, 'EACCES');
    assert.equal((await s.stats()).master.pid, s.pid, 'while its owner still can');
  });
});

test('with no supervisor there, each verb exits 3 naming the control path it tried', async () => {
  const listen = 'unix:/nonexistent-scgi-ctl-test/app.sock';
  const path = resolveControlPath({ listen: parseListenAddress(listen) });
  for (const args of [['stats'], ['stats', '--json'], ['reload'], ['scale', '2'], ['stop']]) {
    const r = await runCli([...args, '-l', listen], 15_000);
    assert.equal(r.code, EXIT_NOT_RUNNING, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.includes(path), `${args.join(' ')} names ${path}: ${r.stderr}`);
    assert.match(r.stderr, /^scgi-supervise: ERR_CONTROL_NOT_RUNNING: /);
    assert.equal(r.stdout, '');
  }
  const explicit = await runCli(['stats', '--control', '/nonexistent-scgi-ctl-test/c.sock'], 15_000);
  assert.equal(explicit.code, EXIT_NOT_RUNNING);
  assert.ok(explicit.stderr.includes('/nonexistent-scgi-ctl-test/c.sock'));
});
