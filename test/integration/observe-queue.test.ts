// The listen queue in `stats --json` (master.listenQueue, master/listen-queue.ts): one worker stuck in a synchronous
// request, 5 more connections wait in the kernel's accept queue; the master's sample shows depth >= 4, then 0 once the
// worker is free and has served them. For TCP (/proc/net/tcp) and a Unix socket (`ss`, netlink sock_diag).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { controlRequest } from '../../src/control/client.js';
import type { StatsSnapshot } from '../../src/stats-contract.js';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.js';
import { makeTempDir, removeDir } from '../helpers/frontends/process-utils.js';
import { request } from '../helpers/scgi-raw.js';
import { pollFor } from './control-helpers.js';

const WAITING = 5;

function open(sup: Supervisor): Socket {
  return 'path' in sup.connect ? connect(sup.connect.path) : connect(sup.connect.port, sup.connect.host);
}

/** Sends one request; resolves with everything received by the close. */
function send(sup: Supervisor, uri: string): { all: Promise<string> } {
  const s = open(sup);
  let data = '';
  const all = new Promise<string>((resolve, reject) => {
    s.on('data', (c: Buffer) => (data += c.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve(data));
  });
  s.write(request('GET', uri));
  return { all };
}

for (const kind of ['tcp', 'unix'] as const) {
  test(`listen queue over ${kind}: a blocked worker, ${WAITING} waiting connections → depth >= ${WAITING - 1}, then 0`, async (t) => {
    const dir = await makeTempDir('observe-queue');
    t.after(() => removeDir(dir));
    const controlDir = join(dir, 'ctl');
    await mkdir(controlDir, { mode: 0o700 }); // the control socket's folder must be ours alone (control/socket-file.ts)
    const control = join(controlDir, 'ctl.sock');
    const sup = await startSupervisor({
      app: 'observe.cjs',
      workers: 1,
      t,
      ...(kind === 'unix' ? { listen: `unix:${join(dir, 'app.sock')}` } : {}),
      args: ['--control', control, '--stats-interval', '0.1'],
    });
    const stats = () => controlRequest<StatsSnapshot>(control, 'stats', {}, 5000);

    const idle = await pollFor('a first listen-queue sample', 5000, async () => (await stats()).master.listenQueue ?? undefined);
    assert.equal(idle.depth, 0);
    assert.ok(idle.limit > 0 && idle.limit <= 511, `limit ${idle.limit}`);

    const marker = join(dir, 'blocking');
    const blocker = send(sup, `/block?ms=3000&marker=${encodeURIComponent(marker)}`);
    // The handler runs (it wrote the marker): the only worker accepts nothing for 3 s.
    await pollFor('the blocking handler to start', 5000, () => (existsSync(marker) ? true : undefined), 10);
    const waiting = Array.from({ length: WAITING }, () => send(sup, '/ok'));

    const full = await pollFor(`listenQueue.depth >= ${WAITING - 1}`, 2500, async () => {
      const q = (await stats()).master.listenQueue;
      return q !== null && q.depth >= WAITING - 1 ? q : undefined;
    });
    assert.ok(full.depth <= WAITING, `depth ${full.depth}`);

    assert.match(await blocker.all, /unblocked/);
    for (const w of waiting) assert.match(await w.all, /^Status: 200/);
    await pollFor('listenQueue.depth back to 0', 3000, async () => ((await stats()).master.listenQueue?.depth === 0 ? true : undefined));

    const human = await import('../../src/cli/commands/stats.js');
    assert.match(human.formatStatsTable(await stats()), /listen queue 0\/\d+/);
  });
}
