// The unit files shipped in examples/systemd/ pass `systemd-analyze verify` (PID 1 here is not systemd; verify
// still parses every directive and checks the command exists). verify exits 0 on a directive it ignores, so its
// output must be empty too. The notify-reload variant needs systemd 253: on older systemd (Debian 12: 252) the
// one complaint allowed is that type, which docs/systemd.md tells such users to avoid.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/paths.js';

const ANALYZE = '/usr/bin/systemd-analyze';
const UNITS = join(ROOT, 'examples', 'systemd');

function systemdVersion(): number {
  const r = spawnSync(ANALYZE, ['--version'], { encoding: 'utf8' });
  return Number(/systemd (\d+)/.exec(r.stdout)?.[1] ?? 0);
}

/** Copies the socket unit and `service` (as scgi-app.service) into a temp dir, the CLI path put in for the binary. */
function verify(service: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'scgi-units-'));
  try {
    const text = readFileSync(join(UNITS, service), 'utf8').replaceAll('/usr/bin/scgi-supervise', `${process.execPath} ${CLI}`);
    writeFileSync(join(dir, 'scgi-app.service'), text);
    copyFileSync(join(UNITS, 'scgi-app.socket'), join(dir, 'scgi-app.socket'));
    const r = spawnSync(ANALYZE, ['verify', join(dir, 'scgi-app.socket'), join(dir, 'scgi-app.service')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    return `${r.stdout}${r.stderr}`.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('examples/systemd: the Type=notify service and the socket unit verify clean', () => {
  assert.ok(existsSync(ANALYZE), `${ANALYZE} is missing (Debian package systemd)`);
  assert.equal(verify('scgi-app.service'), '');
});

test('examples/systemd: the Type=notify-reload service verifies clean on systemd 253+, and only its type is unknown before', () => {
  const out = verify('scgi-app-notify-reload.service');
  if (systemdVersion() >= 253) assert.equal(out, '');
  else assert.match(out, /^\S+scgi-app\.service:\d+: Failed to parse service type, ignoring: notify-reload$/);
});
