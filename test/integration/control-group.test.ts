// --control-group (issue 14 item 3): a root-started supervisor's control socket becomes 0660 in that group, and a
// non-root member of the group runs `stats` and `reload` through the real CLI; without it the same user is refused
// (the docs then say: use sudo). The member is `nobody` in `nogroup` (its primary group), run with setpriv.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/paths.js';
import { startSupervisor } from '../helpers/supervisor.js';

function asNobody(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--init-groups', process.execPath, CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('--control-group nogroup: nobody runs stats and reload on a root-started supervisor; without it, refused', async (t) => {
  assert.equal(process.getuid!(), 0, 'this test needs root (the tests run as root in CI)');
  const dir = mkdtempSync(join(tmpdir(), 'scgi-ctl-group-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // as RuntimeDirectory= makes it

  const grouped = join(dir, 'grouped.sock');
  await startSupervisor({ app: 'pid.cjs', workers: 1, args: ['--control', grouped, '--control-group', 'nogroup'], t });
  const st = statSync(grouped);
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.gid, 65534);
  const stats = asNobody('stats', '--json', '--control', grouped);
  assert.equal(stats.status, 0, stats.out);
  assert.equal(JSON.parse(stats.out).workers.length, 1);
  const reload = asNobody('reload', '--control', grouped);
  assert.equal(reload.status, 0, reload.out);

  const closed = join(dir, 'closed.sock');
  await startSupervisor({ app: 'pid.cjs', workers: 1, args: ['--control', closed], t });
  assert.equal(statSync(closed).mode & 0o777, 0o600);
  const refused = asNobody('stats', '--control', closed);
  assert.notEqual(refused.status, 0);
  assert.match(refused.out, /ERR_CONTROL_PERMISSION/);
});

test('--control-group with an unknown group exits 64 naming control-group', async (t) => {
  const s = await startSupervisor({ app: 'pid.cjs', workers: 1, args: ['--control-group', 'no-such-group-xyz'], noWait: true, t });
  const exit = await s.exited(15_000);
  assert.equal(exit?.code, 64, s.logs());
  assert.match(s.logs(), /control-group/);
});
