// sd_notify (issue 14 item 2) through a datagram socket this test creates as NOTIFY_SOCKET: a python3 receiver with
// SO_PASSCRED prints each datagram with the sender's pid (what systemd checks for NotifyAccess=main). Sees READY=1
// only once all N workers are ready, STATUS after a crash, RELOADING=1 + MONOTONIC_USEC then READY=1 around a
// reload, STOPPING=1, and WATCHDOG=1 at half of WATCHDOG_USEC, every one from the master's pid.
// Needs build/sd_notify.node (scripts/build-native.mjs at npm install): a missing addon fails here, never skips.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { startSupervisor } from '../helpers/supervisor.js';
import { signalPid, stopProcess, waitFor } from '../helpers/frontends/process-utils.js';

const RECEIVER = String.raw`
import json, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("bound", flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    print(json.dumps({"pid": pid, "ms": time.monotonic() * 1000, "msg": msg.decode()}), flush=True)
`;

interface Datagram {
  pid: number;
  ms: number;
  msg: string;
}

test('NOTIFY_SOCKET: READY after N ready, STATUS, RELOADING/READY around a reload, STOPPING, WATCHDOG at half the interval, all from the master', async (t) => {
  assert.ok(existsSync(join(ROOT, 'build', 'sd_notify.node')), 'build/sd_notify.node is missing: npm ci builds it (needs gcc)');
  const dir = mkdtempSync(join(tmpdir(), 'scgi-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'notify.sock');
  const receiver = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => stopProcess(receiver, { signal: 'SIGKILL', graceMs: 1000 }));
  let out = '';
  receiver.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  await waitFor('receiver bound', () => out.includes('bound') || undefined, { timeoutMs: 10_000 });
  const got = (): Datagram[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Datagram);
  const has = (re: RegExp, from = 0) => got().slice(from).findIndex((d) => re.test(d.msg));

  const WORKERS = 3;
  const WATCHDOG_USEC = 300_000; // → WATCHDOG=1 every 150 ms
  const sup = await startSupervisor({ app: 'life-slow-load.cjs', workers: WORKERS, env: { NOTIFY_SOCKET: path, WATCHDOG_USEC: String(WATCHDOG_USEC) }, t });
  await waitFor('READY=1', () => has(/^READY=1$/m) >= 0 || undefined, { timeoutMs: 10_000 });
  const readyAt = has(/^READY=1$/m);
  // READY only with all N ready: every STATUS before it counted fewer, and its own STATUS says N/N.
  assert.match(got()[readyAt]!.msg, new RegExp(`STATUS=${WORKERS}/${WORKERS} workers ready, generation 1`));
  const before = got().slice(0, readyAt).map((d) => d.msg);
  assert.ok(before.length >= 1 && before.every((m) => /^STATUS=[0-2]\/3 workers ready/.test(m)), before.join(' | '));

  // The workers never see NOTIFY_SOCKET or WATCHDOG_* (master/spawn-worker.ts): an app calling sd_notify would
  // otherwise be rejected by NotifyAccess=main, or worse, with NotifyAccess=all, declare the unit ready or alive.
  for (const pid of sup.workerPids()) {
    const names = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').map((kv) => kv.split('=')[0]);
    assert.deepEqual(names.filter((n) => /^(NOTIFY_SOCKET|WATCHDOG_|LISTEN_)/.test(n!)), [], `worker ${pid}`);
  }

  // A crash: STATUS tells a human.
  const victim = sup.workerPids()[0]!;
  signalPid(victim, 'SIGKILL');
  await waitFor('STATUS after the crash', () => has(/STATUS=3\/3 workers ready, generation 1, 1 restart$/m) >= 0 || undefined, { timeoutMs: 15_000 });
  assert.ok(has(/STATUS=2\/3 workers ready, generation 1, 1 restart/m) >= 0, 'the dip to 2/3 was reported');

  // A reload: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, the receiver's time.monotonic), then READY=1.
  const mark = got().length;
  signalPid(sup.pid, 'SIGHUP');
  await waitFor('READY=1 after reload', () => has(/^READY=1$/m, mark) >= 0 || undefined, { timeoutMs: 20_000 });
  const reloading = got().slice(mark).find((d) => /^RELOADING=1$/m.test(d.msg));
  assert.ok(reloading, 'RELOADING=1 was sent');
  const usec = Number(/^MONOTONIC_USEC=(\d+)$/m.exec(reloading.msg)?.[1]);
  assert.ok(Math.abs(usec / 1000 - reloading.ms) < 1000, `MONOTONIC_USEC ${usec} vs receiver ${reloading.ms} ms`);
  assert.ok(got().indexOf(reloading) < mark + has(/^READY=1$/m, mark), 'RELOADING before READY');
  assert.match(got()[mark + has(/^READY=1$/m, mark)]!.msg, /generation 2/);

  await sup.stop('SIGTERM');
  await waitFor('STOPPING=1', () => has(/^STOPPING=1$/m) >= 0 || undefined, { timeoutMs: 5000 });
  const all = got();
  assert.deepEqual([...new Set(all.map((d) => d.pid))], [sup.pid], 'every datagram from the master pid');
  const order = all.map((d) => d.msg).filter((m) => /READY=1|RELOADING=1|STOPPING=1/.test(m)).map((m) => /(READY|RELOADING|STOPPING)=1/.exec(m)![1]);
  assert.deepEqual(order, ['READY', 'RELOADING', 'READY', 'STOPPING']);
  // Watchdog: from READY to STOPPING, at half of WATCHDOG_USEC (150 ms); none before READY.
  const pings = all.filter((d) => d.msg === 'WATCHDOG=1');
  assert.ok(all.indexOf(pings[0]!) > readyAt, 'no WATCHDOG before READY');
  const gaps = pings.slice(1).map((d, i) => d.ms - pings[i]!.ms).sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)]!;
  assert.ok(gaps.length >= 5, `only ${pings.length} pings`);
  assert.ok(median > 120 && median < 220, `median gap ${median} ms, expected ~150`);
});
