// `stats --watch` when stdout is not a terminal (cli/commands/stats.ts): one plain table per interval, no escape
// sequences; with --json one StatsSnapshot per line per interval; SIGINT ends it with exit 0. The terminal path
// (redraw in place, q to quit) is checked by hand in tmux (docs/metrics.md "The live view").

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startSupervisor } from '../helpers/supervisor.js';
import { makeTempDir, removeDir, signalPid, waitForExit } from '../helpers/frontends/process-utils.js';
import { CLI } from '../helpers/paths.js';
import { pollFor } from './control-helpers.js';
import type { StatsSnapshot } from '../../src/stats-contract.js';

async function watch(t: Pick<TestContext, 'after'>, control: string, extra: string[], until: (out: string) => boolean) {
  const child = spawn(process.execPath, [CLI, 'stats', '--control', control, '--watch', '0.2', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => signalPid(child.pid!, 'SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await pollFor(`stats --watch ${extra.join(' ')} output (so far: ${JSON.stringify(out)} ${err})`, 10_000, () => (until(out) ? true : undefined));
  signalPid(child.pid!, 'SIGINT');
  const exit = await waitForExit(child, 5000);
  assert.ok(exit, 'stats --watch did not exit within 5 s of SIGINT');
  assert.equal(exit.code, 0, err);
  return out;
}

test('stats --watch without a terminal: a table per interval, JSON lines with --json, SIGINT exits 0', async (t) => {
  const dir = await makeTempDir('observe-watch');
  t.after(() => removeDir(dir));
  const controlDir = join(dir, 'ctl');
  await mkdir(controlDir, { mode: 0o700 });
  const control = join(controlDir, 'ctl.sock');
  await startSupervisor({ app: 'observe.cjs', workers: 2, t, args: ['--control', control, '--stats-interval', '0.2'] });

  const frames = (out: string) => out.split('\n\n').filter((f) => f.trim() !== '');
  const text = await watch(t, control, [], (out) => frames(out).length >= 3);
  assert.doesNotMatch(text, /\x1b/, 'no escape sequences when stdout is not a terminal');
  for (const frame of frames(text).slice(0, 3)) {
    const lines = frame.split('\n');
    assert.match(lines[0]!, /generation 1 .* 2 workers {2}listen queue \d+\/\d+$/);
    assert.match(lines[1]!, /ID\s+PID\s+STATE\s+REQ\/S\s+INFLIGHT\s+CPU%\s+MEM MiB\s+RESTARTS/);
    assert.equal(lines.filter((l) => /^\s*\d+\s+\d+\s+ready\s/.test(l)).length, 2, frame);
  }

  const json = await watch(t, control, ['--json'], (out) => out.split('\n').filter(Boolean).length >= 3);
  const snapshots = json.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StatsSnapshot);
  assert.ok(snapshots.length >= 3);
  for (const s of snapshots) {
    assert.equal(s.workers.length, 2);
    assert.ok(s.master.listenQueue === null || typeof s.master.listenQueue.depth === 'number');
  }
});
