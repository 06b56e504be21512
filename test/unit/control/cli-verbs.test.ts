// The pure parts of the control verbs (cli/commands/{stats,reload,stop}.ts, cli/control-options.ts): the table, the
// reload line, exit codes, and finding the control path from the same options, env and file `start` reads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStatsTable, formatUptime } from '../../../src/cli/commands/stats.js';
import { formatReload } from '../../../src/cli/commands/reload.js';
import { pidExited } from '../../../src/cli/commands/stop.js';
import { controlPathFor, exitCodeFor } from '../../../src/cli/control-options.js';
import { EXIT_BUSY, EXIT_FAILURE, EXIT_NOT_RUNNING, EXIT_USAGE } from '../../../src/cli/format.js';
import { resolveControlPath } from '../../../src/control/paths.js';
import { ConfigError, ControlError, SupervisorError } from '../../../src/errors.js';
import type { StatsSnapshot } from '../../../src/stats-contract.js';

test('formatUptime', () => {
  assert.deepEqual(
    [0, 42.9, 60, 725, 3600, 3725, 86399, 86400, 190000].map(formatUptime),
    ['0s', '42s', '1m00s', '12m05s', '1h00m', '1h02m', '23h59m', '1d00h', '2d04h'],
  );
});

test('the stats table: a master line, a header, one aligned row per worker, no borders', () => {
  const snapshot: StatsSnapshot = {
    master: { pid: 812, version: '0.1.0', listen: '127.0.0.1:4000', generation: 3, uptime: 100, workers: 2, listenQueue: { depth: 3, limit: 511 }, config: {}, totals: { requests: 0, timeouts: 0, recycles: 0, restarts: 0 } },
    workers: [
      { id: 0, pid: 815, state: 'ready', generation: 3, uptime: 61, requests: 123456, inflight: 2, timeouts: 0, restarts: 0, recycles: 0, recentRestarts: 0, lastExit: null, cpu: 12.345, memory: 52428800 },
      { id: 1, pid: null, state: 'backoff', generation: 3, uptime: 0, requests: 0, inflight: 0, timeouts: 0, restarts: 4, recycles: 0, recentRestarts: 3, lastExit: { code: null, signal: 'SIGKILL', reason: 'crash' }, cpu: null, memory: null },
      { id: 2, pid: 820, state: 'draining', generation: 2, uptime: 9, requests: 7, inflight: 1, timeouts: 0, restarts: 1, recycles: 2, recentRestarts: 1, lastExit: { code: 0, signal: null, reason: 'recycled', limit: 'max-memory' }, cpu: 0, memory: 1048576 },
    ],
  };
  const lines = formatStatsTable(snapshot).trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.match(lines[0]!, /^master pid 812, version 0\.1\.0, listen 127\.0\.0\.1:4000, generation 3, up 1m40s, 2 workers, listen queue 3\/511$/);
  assert.match(lines[1]!, /ID\s+PID\s+STATE\s+GEN\s+UPTIME\s+REQUESTS\s+INFLIGHT\s+RESTARTS\s+IN 60S\s+RECYCLES\s+CPU%\s+MEM MiB\s+LAST EXIT/);
  assert.doesNotMatch(lines.join('\n'), /[│─┌┐└┘]/);
  const cells = lines.slice(2).map((l) => l.trim().split(/\s{2,}/));
  assert.deepEqual(cells[0], ['0', '815', 'ready', '3', '1m01s', '123456', '2', '0', '0', '0', '12.3', '50.0', '-']);
  assert.deepEqual(cells[1], ['1', '-', 'backoff', '3', '0s', '0', '0', '4', '3', '0', '-', '-', 'crash (SIGKILL)']);
  assert.deepEqual(cells[2], ['2', '820', 'draining', '2', '9s', '7', '1', '1', '1', '2', '0.0', '1.0', 'recycled max-memory (code 0)']);
  // Aligned: right-aligned numeric columns end at the same offset on every row (REQUESTS here).
  const col = lines[1]!.indexOf('REQUESTS') + 'REQUESTS'.length;
  for (const line of lines.slice(2)) assert.match(line.slice(0, col), /\d$/, `REQUESTS column ends at ${col}: ${line}`);
});

test('formatReload prints the line tests and users rely on', () => {
  assert.equal(formatReload({ generation: 4, workers: 8, durationMs: 2149 }), 'reloaded: generation 4, 8 workers in 2.1s');
});

test('exit codes: not running 3, reload busy 4, bad options 64, the rest 1', () => {
  assert.equal(exitCodeFor(new ControlError('ERR_CONTROL_NOT_RUNNING', 'x')), EXIT_NOT_RUNNING);
  assert.equal(exitCodeFor(new SupervisorError('ERR_RELOAD_IN_PROGRESS', 'x')), EXIT_BUSY);
  assert.equal(exitCodeFor(new ConfigError('listen', 'x')), EXIT_USAGE);
  assert.equal(exitCodeFor(new SupervisorError('ERR_RELOAD_FAILED', 'x')), EXIT_FAILURE);
  assert.equal(exitCodeFor(new Error('x')), EXIT_FAILURE);
  assert.deepEqual([EXIT_NOT_RUNNING, EXIT_BUSY], [3, 4]);
});

test('pidExited: our own pid lives; a reaped child is gone', async () => {
  assert.equal(pidExited(process.pid), false);
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.once('exit', r));
  assert.equal(pidExited(child.pid!), true);
});

test('controlPathFor: flags, then SCGI_SUPERVISE_* env, then the YAML file, then the default listen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-opts-'));
  try {
    const listen = (s: string) => resolveControlPath({ listen: { kind: 'tcp', host: '127.0.0.1', port: Number(s) } });
    assert.equal(controlPathFor({}, {}), listen('4000'));
    assert.equal(controlPathFor({ listen: '127.0.0.1:5000' }, {}), listen('5000'));
    assert.equal(controlPathFor({}, { SCGI_SUPERVISE_LISTEN: '127.0.0.1:5001' }), listen('5001'));
    assert.equal(controlPathFor({ listen: '5002' }, { SCGI_SUPERVISE_LISTEN: '127.0.0.1:5001' }), listen('5002'));
    const file = join(dir, 'supervisor.yaml');
    writeFileSync(file, 'app: app.js\nlisten: 127.0.0.1:5003\n');
    assert.equal(controlPathFor({ config: file }, {}), listen('5003'));
    assert.equal(controlPathFor({}, { SCGI_SUPERVISE_CONFIG: file }), listen('5003'));
    assert.equal(controlPathFor({ config: file, listen: '5004' }, {}), listen('5004'));
    writeFileSync(file, 'app: app.js\nlisten: 5005\n');
    assert.equal(controlPathFor({ config: file }, {}), listen('5005'), 'a bare port in YAML is a number');
    writeFileSync(file, 'app: app.js\nname: shop\ncontrol: run/ctl.sock\n');
    assert.equal(controlPathFor({ config: file }, {}), join(dir, 'run', 'ctl.sock'), 'relative to the file');
    assert.equal(controlPathFor({ config: file, control: '/x/c.sock' }, {}), '/x/c.sock');
    writeFileSync(file, 'app: app.js\nname: shop\n');
    assert.equal(controlPathFor({ config: file }, {}), resolveControlPath({ name: 'shop', listen: { kind: 'fd', fd: 3 } }));
    assert.equal(controlPathFor({}, { SCGI_SUPERVISE_NAME: 'shop' }), resolveControlPath({ name: 'shop', listen: { kind: 'fd', fd: 3 } }));
    assert.throws(() => controlPathFor({ listen: 'nonsense' }, {}), ConfigError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
